/**
 * `run` under a Type=notify unit, through the real CLI and the real systemd-notify: a unix
 * datagram socket made here (python3, as systemd makes NOTIFY_SOCKET) receives READY=1 only
 * once the start's reconcile is on the target, WATCHDOG=1 pings at half WATCHDOG_USEC (from
 * the start on, so a long first push is not taken for a hang), STATUS=
 * lines with the figures of `status`, and STOPPING=1 at SIGTERM. `status` of the same running
 * instance shows its uptime, version and configuration file.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { serverMissing } from '../helpers/server-required.ts';
import { BIN, runCli, sleep, tempDir } from './harness.ts';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Prints every datagram on its socket as one JSON string per line. */
const RECEIVER = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps("BOUND"), flush=True)
while True:
    print(json.dumps(s.recv(65536).decode("utf-8", "replace")), flush=True)
`;

function missing(): string | undefined {
  for (const [tool, args] of [
    ['python3', ['--version']],
    ['systemd-notify', ['--version']],
  ] as const) {
    const r = spawnSync(tool, args);
    if (r.error || r.status !== 0) return serverMissing(tool, `${tool} ${args.join(' ')} failed: ${r.error?.message ?? r.stderr.toString()}`);
  }
  return undefined;
}

class NotifySocket {
  readonly messages: { at: number; fields: Map<string, string> }[] = [];
  private readonly child: ChildProcess;
  private bound = false;

  constructor(readonly path: string) {
    this.child = spawn('python3', ['-c', RECEIVER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    this.child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const text = JSON.parse(buf.slice(0, nl)) as string;
        buf = buf.slice(nl + 1);
        if (text === 'BOUND') this.bound = true;
        else this.messages.push({ at: Date.now(), fields: new Map(text.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])) });
      }
    });
  }

  async ready(): Promise<void> {
    for (let i = 0; !this.bound; i++) {
      if (i > 200) throw new Error('the python3 receiver did not bind its socket');
      await sleep(25);
    }
  }

  with(key: string): { at: number; fields: Map<string, string> }[] {
    return this.messages.filter((m) => m.fields.has(key));
  }

  close(): void {
    this.child.kill('SIGKILL');
  }
}

async function waitUntil(what: string, fn: () => boolean, timeoutMs: number, detail: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${detail()}`);
    await sleep(20);
  }
}

describe('e2e: systemd notify (Type=notify)', { concurrency: 1 }, () => {
  const skip = missing();

  it('READY=1 after the first reconcile, WATCHDOG=1 pings, STATUS= like `status`, STOPPING=1; status shows uptime, version, config', { skip }, async () => {
    const t = tempDir('sdnotify');
    const src = join(t.path, 'src');
    const dst = join(t.path, 'dst');
    const name = `sdnotify-${process.pid}`;
    const cfg = join(t.path, 'site.yaml');
    mkdirSync(join(src, 'deep', 'er'), { recursive: true });
    // Enough files that the reconcile takes a while after the watch starts.
    for (let i = 0; i < 300; i++) writeFileSync(join(src, i % 2 ? 'deep' : join('deep', 'er'), `f${i}.txt`), `file ${i}\n`.repeat(50));
    writeFileSync(cfg, `name: ${name}\npidFile: ./run/${name}.pid\nlog: terminal\nstate: ./state.db\nsyncs:\n  - source: ./src\n    targets:\n      - url: ./dst\n`);
    const sock = new NotifySocket(join(t.path, 'notify.sock'));
    let daemon: ChildProcess | undefined;
    let output = '';
    try {
      await sock.ready();
      // An unrelated WATCHDOG_PID would mean the watchdog is not ours: it is unset here.
      const env: NodeJS.ProcessEnv = { ...process.env, NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '400000' };
      delete env.WATCHDOG_PID;
      daemon = spawn(process.execPath, [BIN, 'run', '-c', cfg], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      daemon.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      daemon.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      const detail = () => `messages: ${JSON.stringify(sock.messages.map((m) => [...m.fields]))}\ndaemon output:\n${output.slice(-3000)}`;

      // READY=1: every file is on the target by the time it arrives.
      let missingAtReady = -1;
      await waitUntil(
        'READY=1',
        () => {
          if (sock.with('READY').length === 0) return false;
          if (missingAtReady < 0) {
            missingAtReady = 0;
            for (let i = 0; i < 300; i++) if (!existsSync(join(dst, i % 2 ? 'deep' : join('deep', 'er'), `f${i}.txt`))) missingAtReady++;
          }
          return true;
        },
        60_000,
        detail,
      );
      assert.equal(missingAtReady, 0, `READY=1 came before the reconcile ended: ${missingAtReady} of 300 files not on the target yet`);
      assert.equal(sock.with('READY').length, 1, detail());
      const ready = sock.with('READY')[0]!;
      // The first STATUS= comes with READY=1, in the words of `status`.
      const status = ready.fields.get('STATUS') ?? '';
      assert.match(status, /dst: ok; queued 0, 0 in flight; sent 300 files, [\d.]+ [kK]i?B; lag none/, detail());
      // While the first push runs, STATUS= says so (and the watchdog is already fed).
      assert.match(sock.messages[0]!.fields.get('STATUS') ?? '', /^starting: first reconcile; .*dst: /, detail());

      // WATCHDOG=1 every half of WATCHDOG_USEC (0.2 s): at least 5 in 2 s, allowing for load.
      await sleep(2_000);
      const pings = sock.with('WATCHDOG').length;
      assert.ok(pings >= 5, `${pings} WATCHDOG=1 pings in 2 s with WATCHDOG_USEC=400000\n${detail()}`);
      assert.ok(pings <= 12, `${pings} WATCHDOG=1 pings in 2 s: more than one per 200 ms`);

      // `status` of the running instance: uptime, version, configuration file.
      const st = await runCli(['status', '-c', cfg]);
      assert.equal(st.code, 0, `status exited ${st.code}: ${st.stdout}${st.stderr}`);
      assert.match(st.stdout, new RegExp(`^${name}: running \\(pid ${daemon.pid}, up \\d+(\\.\\d)? s, version ${VERSION.replace(/\./g, '\\.')}\\)$`, 'm'));
      assert.match(st.stdout, new RegExp(`^  config   ${cfg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
      const json = JSON.parse((await runCli(['status', '-c', cfg, '--json'])).stdout) as { version: string; config: string; uptimeSec: number };
      assert.equal(json.version, VERSION);
      assert.equal(json.config, cfg);
      assert.ok(json.uptimeSec >= 2, `uptimeSec ${json.uptimeSec} after more than 2 s`);

      // A change shows in the next STATUS= (refreshed every 5 s when it differs).
      writeFileSync(join(src, 'late.txt'), 'late\n');
      await waitUntil('STATUS= with 301 files sent', () => sock.with('STATUS').some((m) => /sent 301 files/.test(m.fields.get('STATUS')!)), 20_000, detail);

      daemon.kill('SIGTERM');
      const code = await new Promise<number | null>((r) => daemon!.on('close', (c) => r(c)));
      assert.equal(code, 0, detail());
      await waitUntil('STOPPING=1', () => sock.with('STOPPING').length === 1, 10_000, detail);
      const stoppingAt = sock.with('STOPPING')[0]!.at;
      await sleep(600);
      assert.equal(sock.messages.filter((m) => m.at > stoppingAt + 300 && m.fields.has('WATCHDOG')).length, 0, 'watchdog pings after STOPPING=1');
    } finally {
      if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
      sock.close();
      t.cleanup();
    }
  });

  it('the unit in deploy/ is Type=notify, hardened, and systemd-analyze verify accepts it', async () => {
    const unit = readFileSync(new URL('../../deploy/sync-inotify@.service', import.meta.url), 'utf8');
    for (const line of ['Type=notify', 'NotifyAccess=all', 'ProtectSystem=strict', 'NoNewPrivileges=yes', 'PrivateTmp=yes', 'StateDirectory=sync-inotify', 'LogsDirectory=%i', 'ReadWritePaths=/run']) {
      assert.match(unit, new RegExp(`^${line}$`, 'm'), `${line} is missing from the unit`);
    }
    const r = spawnSync('systemd-analyze', ['--version']);
    if (r.error || r.status !== 0) return void serverMissing('systemd-analyze', 'not installed');
    const t = tempDir('unit');
    try {
      // An instance name, as systemctl would start it.
      copyFileSync(new URL('../../deploy/sync-inotify@.service', import.meta.url), join(t.path, 'sync-inotify@site.service'));
      const v = spawnSync('systemd-analyze', ['verify', join(t.path, 'sync-inotify@site.service')], { encoding: 'utf8' });
      assert.equal(v.status, 0, `systemd-analyze verify: ${v.stdout}${v.stderr}`);
      assert.equal(v.stderr.trim(), '', `systemd-analyze verify warns: ${v.stderr}`);
    } finally {
      t.cleanup();
    }
  });

  it('without NOTIFY_SOCKET nothing is sent and the daemon runs as before', { skip }, async () => {
    const t = tempDir('sdnotify-off');
    try {
      mkdirSync(join(t.path, 'src'));
      writeFileSync(join(t.path, 'src', 'a.txt'), 'a\n');
      const env = { ...process.env };
      delete env.NOTIFY_SOCKET;
      // A systemd-notify that would record being called, first on PATH.
      mkdirSync(join(t.path, 'bin'));
      writeFileSync(join(t.path, 'bin', 'systemd-notify'), `#!/bin/sh\necho "$@" >> ${join(t.path, 'called')}\n`, { mode: 0o755 });
      env.PATH = `${join(t.path, 'bin')}:${env.PATH ?? ''}`;
      const daemon = spawn(process.execPath, [BIN, 'run', join(t.path, 'src'), join(t.path, 'dst'), '--state', join(t.path, 'state.db')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      daemon.stdout.on('data', (d: Buffer) => (output += d.toString()));
      await waitUntil('a.txt on the target', () => existsSync(join(t.path, 'dst', 'a.txt')), 30_000, () => output);
      await sleep(500);
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon.on('close', r));
      assert.equal(existsSync(join(t.path, 'called')), false, 'systemd-notify was run without NOTIFY_SOCKET');
    } finally {
      t.cleanup();
    }
  });
});
