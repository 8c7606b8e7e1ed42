import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { notifySettings } from './systemd-notify.ts';
import { formatStatusLine } from './status-report.ts';
import type { TargetReport } from './status-report.ts';

describe('notifySettings', () => {
  const cases: [string, NodeJS.ProcessEnv, ReturnType<typeof notifySettings>][] = [
    ['no NOTIFY_SOCKET: off', {}, { enabled: false }],
    ['empty NOTIFY_SOCKET: off', { NOTIFY_SOCKET: '' }, { enabled: false }],
    ['socket, no watchdog', { NOTIFY_SOCKET: '/run/n' }, { enabled: true }],
    ['watchdog 30 s: a ping every 15 s', { NOTIFY_SOCKET: '/run/n', WATCHDOG_USEC: '30000000' }, { enabled: true, watchdogMs: 15_000 }],
    ['watchdog for this pid', { NOTIFY_SOCKET: '@abstract', WATCHDOG_USEC: '1000000', WATCHDOG_PID: '42' }, { enabled: true, watchdogMs: 500 }],
    ['watchdog for another pid: not ours', { NOTIFY_SOCKET: '/run/n', WATCHDOG_USEC: '1000000', WATCHDOG_PID: '43' }, { enabled: true }],
    ['garbage WATCHDOG_USEC: no pings', { NOTIFY_SOCKET: '/run/n', WATCHDOG_USEC: 'soon' }, { enabled: true }],
    ['zero WATCHDOG_USEC: no pings', { NOTIFY_SOCKET: '/run/n', WATCHDOG_USEC: '0' }, { enabled: true }],
  ];
  for (const [name, env, want] of cases) it(name, () => assert.deepEqual(notifySettings(env, 42), want));
});

describe('formatStatusLine', () => {
  const base: TargetReport = { source: '/src', target: 'ftp://u@h/site', state: 'ok', queued: 0, inFlight: 0, filesSent: 1, bytesSent: 2048, opsDone: 3, lagMs: 0, problems: 0, errors: {} };
  it('one target: the figures of `status`', () => {
    assert.equal(formatStatusLine({ targets: [base] }), 'ftp://u@h/site: ok; queued 0, 0 in flight; sent 1 file, 2.0 KiB; lag none');
  });
  it('several targets, a retrying one with its reason on one line', () => {
    const line = formatStatusLine({ targets: [base, { ...base, target: '/mirror', state: 'retrying', reason: 'connection refused\nagain', queued: 5, filesSent: 2, lagMs: 61_000 }] });
    assert.equal(line.includes('\n'), false);
    assert.match(line, / \| \/mirror: retrying: connection refused again; queued 5, 0 in flight; sent 2 files, .*; lag 1 min 1 s$/);
  });
  it('no target', () => assert.equal(formatStatusLine({ targets: [] }), 'no target'));
});
