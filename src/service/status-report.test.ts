import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectionsLine, formatDaemonStatus } from './status-report.ts';

const pool = { limit: 4, idle: 1, busy: 2, opening: 0, running: 17, waiting: 3, opened: 5, reconnects: 1, openFailures: 0, retried: 0, timedOut: 0, paused: undefined };

describe('status: connection pool', () => {
  it('one line: open, busy, idle, running, waiting, reconnects', () => {
    assert.equal(connectionsLine(pool), '3 open (2 busy, 1 idle) of at most 4, 17 operations running, 3 waiting; 1 reconnect');
    assert.equal(connectionsLine({ ...pool, opening: 1, openFailures: 2, timedOut: 1, paused: 'E_AUTH' }), '3 open (2 busy, 1 idle, 1 opening) of at most 4, 17 operations running, 3 waiting; 1 reconnect, 2 failed connects, 1 timed out; paused (E_AUTH)');
  });

  it('shown per target that has a pool, not for one without', () => {
    const base = { source: '/srv', state: 'ok' as const, queued: 0, inFlight: 0, filesSent: 0, bytesSent: 0, opsDone: 0, lagMs: 0, problems: 0, errors: {} };
    const text = formatDaemonStatus({
      name: 'www',
      pid: 1,
      startedAt: '',
      uptimeSec: 1,
      pidFile: '/p',
      statePath: '/s',
      reload: { count: 0 },
      targets: [
        { ...base, target: 'sftp://u@h/x', connections: pool },
        { ...base, target: '/backup' },
      ],
    });
    assert.equal(text.match(/connections /g)?.length, 1);
    assert.match(text, /→ sftp:\/\/u@h\/x\n(.*\n)*? {6}connections 3 open/);
  });
});
