/**
 * Running as a service, through the real CLI as separate processes: start → status → stop,
 * refusals, stale pid files, SIGHUP reload, SIGTERM in a burst, midnight log rotation (fake
 * clock), the debug log file, several named instances (as an ordinary user: XDG folders), and
 * that no log line or status output shows a password.
 *
 * Every instance here gets its pid file, logs and state inside a temp folder (or XDG folders
 * pointing into one), so nothing touches /var/run or /var/log.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli, sleep, tempDir, waitForSame, type RunResult } from './harness.ts';

interface Instance {
  root: string;
  src: string;
  dst: string;
  cfg: string;
  pidFile: string;
  logDir: string;
  state: string;
  cleanup(): Promise<void>;
}

let seq = 0;

/** A named instance with everything in one temp folder. `extra` is YAML added at the top. */
function instance(label: string, extra = '', syncExtra = ''): Instance {
  const t = tempDir(`svc-${label}`);
  const src = join(t.path, 'src');
  const dst = join(t.path, 'dst');
  mkdirSync(src);
  const name = `svc-${label}-${process.pid}-${seq++}`;
  const inst: Instance = {
    root: t.path,
    src,
    dst,
    cfg: join(t.path, 'site.yaml'),
    pidFile: join(t.path, 'run', `${name}.pid`),
    logDir: join(t.path, 'log'),
    state: join(t.path, 'state.db'),
    async cleanup() {
      await runCli(['stop', '-c', inst.cfg, '--timeout', '20']).catch(() => undefined);
      t.cleanup();
    },
  };
  writeConfig(inst, name, extra, syncExtra);
  return inst;
}

function writeConfig(i: Instance, name: string, extra = '', syncExtra = ''): void {
  writeFileSync(
    i.cfg,
    `name: ${name}\npidFile: ./run/${name}.pid\nlog: ./log/\nstate: ./state.db\n${extra}syncs:\n  - source: ./src\n${syncExtra}    targets:\n      - url: ./dst\n`,
  );
}

function ok(r: RunResult, what: string): RunResult {
  assert.equal(r.code, 0, `${what} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

async function waitUntil(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 20_000, detail: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${detail()}`);
    await sleep(50);
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

interface LogLine {
  level: string;
  time: string;
  msg: string;
}

function logLines(file: string): LogLine[] {
  return readText(file)
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as LogLine);
}

function puts(file: string): string[] {
  return logLines(file)
    .filter((l) => l.msg.startsWith('put "'))
    .map((l) => JSON.parse(l.msg.slice(4, l.msg.lastIndexOf('"') + 1)) as string);
}

/** `put "path" size` messages, in order. */
function putLines(file: string): string[] {
  return logLines(file)
    .filter((l) => l.msg.startsWith('put "'))
    .map((l) => l.msg);
}

/** Alive and not a zombie (the detached daemon's parent is init, which may reap late). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = readText(`/proc/${pid}/stat`);
  return stat === '' || !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}

function pidOf(r: RunResult): number {
  const m = /started \(pid (\d+)\)/.exec(r.stdout);
  assert.ok(m, `no pid in: ${r.stdout}`);
  return Number(m[1]);
}

describe('e2e: running as a service', { concurrency: 1 }, () => {
  it('start → status → stop; status when down shows what the state store knows', async () => {
    const i = instance('basic');
    try {
      writeFileSync(join(i.src, 'a.txt'), 'alpha\n');
      mkdirSync(join(i.src, 'dir'));
      writeFileSync(join(i.src, 'dir', 'b.bin'), Buffer.alloc(3000, 7));
      const started = ok(await runCli(['start', '-c', i.cfg]), 'start');
      const pid = pidOf(started);
      assert.equal(readFileSync(i.pidFile, 'utf8').trim(), String(pid));
      assert.ok(isAlive(pid));
      const sock = i.pidFile.replace(/\.pid$/, '.sock');
      assert.equal(statSync(sock).mode & 0o777, 0o600, 'control socket is owner-only');
      await waitForSame(i.src, i.dst, 20_000);

      // Wait for the counters to settle (the mirror is complete before the last put is counted).
      let json: Record<string, unknown> & { targets: Record<string, unknown>[] } = { targets: [] };
      await waitUntil('status to show 2 files sent', async () => {
        const r = ok(await runCli(['status', '-c', i.cfg, '--json']), 'status --json');
        json = JSON.parse(r.stdout) as typeof json;
        return json.targets[0]?.['filesSent'] === 2 && json.targets[0]?.['queued'] === 0;
      });
      assert.equal(json['running'], true);
      assert.equal(json['pid'], pid);
      const t = json.targets[0]!;
      assert.equal(t['state'], 'ok');
      assert.equal(t['source'], i.src);
      assert.equal(t['target'], i.dst);
      assert.equal(t['bytesSent'], 6 + 3000);
      assert.equal(t['inFlight'], 0);
      assert.equal(t['lagMs'], 0);

      const text = ok(await runCli(['status', '-c', i.cfg]), 'status');
      assert.match(text.stdout, /: running \(pid \d+, up /);
      assert.match(text.stdout, /state +ok/);
      assert.match(text.stdout, /queued +0 changes, 0 in flight/);
      assert.match(text.stdout, /sent +2 files, 2\.9 KiB/);
      assert.match(text.stdout, /last error +none/);

      const stopped = ok(await runCli(['stop', '-c', i.cfg]), 'stop');
      assert.match(stopped.stdout, /stopped/);
      assert.ok(!isAlive(pid), 'the daemon is gone');
      assert.ok(!existsSync(i.pidFile), 'pid file removed');
      assert.ok(!existsSync(sock), 'socket removed');
      const log = logLines(join(i.logDir, 'daily.log'));
      assert.ok(log.some((l) => l.msg.startsWith('SIGTERM: finishing operations in flight')));
      assert.deepEqual(puts(join(i.logDir, 'daily.log')).sort(), ['a.txt', 'dir/b.bin']);

      const down = await runCli(['status', '-c', i.cfg]);
      assert.equal(down.code, 3, down.stdout + down.stderr);
      assert.match(down.stdout, /not running \(no pid file/);
      assert.match(down.stdout, /on target +2 files \(2\.9 KiB\), 1 directory/);
      const downJson = JSON.parse((await runCli(['status', '-c', i.cfg, '--json'])).stdout) as { running: boolean; store: { targets: { files: number; dirs: number; target: string }[] } };
      assert.equal(downJson.running, false);
      assert.deepEqual(
        downJson.store.targets.map((x) => [x.target, x.files, x.dirs]),
        [[i.dst, 2, 1]],
      );
      // Stopping what is not running is fine.
      assert.match(ok(await runCli(['stop', '-c', i.cfg]), 'second stop').stdout, /not running/);
    } finally {
      await i.cleanup();
    }
  });

  it('a second start of the same instance is refused; --start/--stop work as in the original', async () => {
    const i = instance('double');
    try {
      const first = ok(await runCli(['--start', '-c', i.cfg]), '--start');
      const pid = pidOf(first);
      const second = await runCli(['start', '-c', i.cfg]);
      assert.equal(second.code, 1);
      assert.match(second.stderr, new RegExp(`already running \\(pid ${pid}`));
      // A foreground run of the same named instance is refused too.
      const run = await runCli(['run', '-c', i.cfg]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /already running/);
      assert.equal(readFileSync(i.pidFile, 'utf8').trim(), String(pid), 'the pid file still names the first');
      ok(await runCli(['--stop', '-c', i.cfg]), '--stop');
      assert.ok(!isAlive(pid));
      const restarted = ok(await runCli(['--start', '-c', i.cfg]), '--start again');
      const pid2 = pidOf(restarted);
      const restart = ok(await runCli(['restart', '-c', i.cfg]), 'restart');
      assert.ok(!isAlive(pid2));
      assert.notEqual(pidOf(restart), pid2);
    } finally {
      await i.cleanup();
    }
  });

  it('a stale pid file (process gone, or garbage) is cleaned up by start and stop', async () => {
    const i = instance('stale');
    try {
      const dead = spawn(process.execPath, ['-e', '']);
      await new Promise((r) => dead.on('close', r));
      mkdirSync(join(i.root, 'run'), { recursive: true });
      writeFileSync(i.pidFile, `${dead.pid}\n`);
      const stopped = ok(await runCli(['stop', '-c', i.cfg]), 'stop with a stale pid file');
      assert.match(stopped.stdout, /not running; removed a stale pid file/);
      assert.ok(!existsSync(i.pidFile));

      writeFileSync(i.pidFile, `${dead.pid}\n`);
      const started = ok(await runCli(['start', '-c', i.cfg]), 'start over a stale pid file');
      assert.match(started.stdout, new RegExp(`removed a stale pid file .*\\(pid ${dead.pid} is not running\\)`));
      const pid = pidOf(started);
      assert.equal(readFileSync(i.pidFile, 'utf8').trim(), String(pid));
      ok(await runCli(['stop', '-c', i.cfg]), 'stop');

      writeFileSync(i.pidFile, 'not a pid\n');
      const again = ok(await runCli(['start', '-c', i.cfg]), 'start over a garbage pid file');
      assert.match(again.stdout, /removed a stale pid file/);
      const status = ok(await runCli(['status', '-c', i.cfg]), 'status');
      assert.match(status.stdout, /running/);
    } finally {
      await i.cleanup();
    }
  });

  it('SIGHUP reload picks up a new exclude; a broken config is refused and the old one kept', async () => {
    const i = instance('reload');
    const name = readFileSync(i.cfg, 'utf8').match(/^name: (.*)$/m)![1]!;
    try {
      writeFileSync(join(i.src, 'old.skip'), 'mirrored before the exclude');
      writeFileSync(join(i.src, 'keep.txt'), 'keep');
      const pid = pidOf(ok(await runCli(['start', '-c', i.cfg]), 'start'));
      await waitForSame(i.src, i.dst, 20_000);

      writeConfig(i, name, '', '    exclude: ["*.skip"]\n');
      const reloaded = ok(await runCli(['reload', '-c', i.cfg]), 'reload');
      assert.match(reloaded.stdout, /reloaded/);
      writeFileSync(join(i.src, 'new.skip'), 'excluded now');
      writeFileSync(join(i.src, 'new.txt'), 'still mirrored');
      await waitUntil('new.txt mirrored and old.skip removed from the target', () => existsSync(join(i.dst, 'new.txt')) && !existsSync(join(i.dst, 'old.skip')), 20_000, () => readText(join(i.logDir, 'daily.log')));
      // A later change proves the excluded file had its chance to be sent.
      writeFileSync(join(i.src, 'later.txt'), 'x');
      await waitUntil('later.txt mirrored', () => existsSync(join(i.dst, 'later.txt')));
      assert.ok(!existsSync(join(i.dst, 'new.skip')), 'the new exclude applies');

      // A broken config on SIGHUP: refused, the daemon keeps the running configuration.
      writeFileSync(i.cfg, readFileSync(i.cfg, 'utf8') + 'bogusKey: 1\n');
      process.kill(pid, 'SIGHUP');
      let status: { running: boolean; reload: { count: number; error?: string } } = { running: false, reload: { count: 0 } };
      await waitUntil('the second reload to be reported', async () => {
        const r = await runCli(['status', '--json', '-c', i.cfg]);
        if (r.code !== 0) return false;
        status = JSON.parse(r.stdout) as typeof status;
        return status.reload.count >= 2;
      });
      assert.match(status.reload.error ?? '', /bogusKey: unknown key/);
      assert.ok(isAlive(pid));
      writeFileSync(join(i.src, 'after-bad.txt'), 'y');
      writeFileSync(join(i.src, 'after-bad.skip'), 'y');
      await waitUntil('after-bad.txt mirrored', () => existsSync(join(i.dst, 'after-bad.txt')));
      assert.ok(!existsSync(join(i.dst, 'after-bad.skip')), 'still the reloaded (good) configuration');
      assert.ok(logLines(join(i.logDir, 'daily.log')).some((l) => l.level === 'error' && l.msg.startsWith('reload refused')));
    } finally {
      await i.cleanup();
    }
  });

  it('SIGTERM in the middle of a burst, then start again: nothing lost, nothing sent twice', async () => {
    const i = instance('burst');
    try {
      const pid = pidOf(ok(await runCli(['start', '-c', i.cfg]), 'start'));
      for (let d = 0; d < 20; d++) {
        mkdirSync(join(i.src, `d${d}`));
        for (let f = 0; f < 100; f++) writeFileSync(join(i.src, `d${d}`, `f${f}`), Buffer.alloc(1024 + f, d));
      }
      const log = join(i.logDir, 'daily.log');
      await waitUntil('the first puts', () => puts(log).length > 0, 30_000);
      const stopped = ok(await runCli(['stop', '-c', i.cfg]), 'stop during the burst');
      assert.match(stopped.stdout, /stopped/);
      assert.ok(!isAlive(pid));
      assert.ok(!/SIGKILL/.test(stopped.stderr), 'stopped by SIGTERM alone');
      const sentBefore = puts(log);
      // While stopped: more changes.
      rmSync(join(i.src, 'd0'), { recursive: true });
      writeFileSync(join(i.src, 'while-down.txt'), 'offline change');
      ok(await runCli(['start', '-c', i.cfg]), 'start again');
      await waitForSame(i.src, i.dst, 60_000);
      await waitUntil('the second run to be idle', async () => {
        const s = JSON.parse((await runCli(['status', '--json', '-c', i.cfg])).stdout) as { targets: { queued: number; inFlight: number }[] };
        return s.targets[0]!.queued === 0 && s.targets[0]!.inFlight === 0;
      });
      const all = putLines(log);
      const before = new Set(all.slice(0, sentBefore.length));
      const after = all.slice(sentBefore.length);
      // Files that landed whole before the stop are not sent again. (A file caught while the
      // burst was still writing it may have gone out short and is rightly sent again.)
      const twice = after.filter((line) => before.has(line));
      assert.deepEqual(twice, [], 'files sent before the stop were sent again');
      assert.equal(new Set(after).size, after.length, 'nothing sent twice after the restart');
    } finally {
      await i.cleanup();
    }
  });

  it('log rotation at midnight: daily.log.YYYY-MM-DD (fake clock)', async () => {
    const i = instance('rotate');
    try {
      const env = { TZ: 'UTC', SYNC_INOTIFY_FAKE_NOW: '2024-03-09T23:59:50Z' };
      ok(await runCli(['start', '-c', i.cfg], { env }), 'start');
      writeFileSync(join(i.src, 'before.txt'), 'before midnight');
      const log = join(i.logDir, 'daily.log');
      const rotated = join(i.logDir, 'daily.log.2024-03-09');
      await waitUntil('put before.txt', () => puts(log).includes('before.txt') || puts(rotated).includes('before.txt'));
      await waitUntil('the rotation at midnight', () => existsSync(rotated), 30_000, () => readdirSync(i.logDir).join(' '));
      writeFileSync(join(i.src, 'after.txt'), 'after midnight');
      await waitUntil('put after.txt', () => puts(log).includes('after.txt'));
      const before = logLines(rotated);
      const after = logLines(log);
      assert.ok(before.every((l) => l.time < '2024-03-10'), 'only lines of the 9th in daily.log.2024-03-09');
      assert.ok(after.every((l) => l.time >= '2024-03-10'), 'only lines of the 10th in daily.log');
      const putBefore = before.concat(after).find((l) => l.msg.startsWith('put "before.txt"'))!;
      assert.equal(puts(putBefore.time < '2024-03-10' ? rotated : log).includes('before.txt'), true);
      assert.ok(before.length > 0);
      assert.deepEqual(readdirSync(i.logDir).sort(), ['daily.log', 'daily.log.2024-03-09']);
      ok(await runCli(['stop', '-c', i.cfg], { env }), 'stop');
    } finally {
      await i.cleanup();
    }
  });

  it('debug: true writes daily.log.debug with the detail', async () => {
    const i = instance('debug', 'debug: true\n');
    try {
      writeFileSync(join(i.src, 'x.txt'), 'x');
      ok(await runCli(['start', '-c', i.cfg]), 'start');
      const file = join(i.logDir, 'daily.log.debug');
      await waitUntil('put x.txt in daily.log.debug', () => puts(file).includes('x.txt'));
      ok(await runCli(['status', '-c', i.cfg]), 'status');
      ok(await runCli(['stop', '-c', i.cfg]), 'stop');
      const lines = logLines(file);
      assert.ok(lines.some((l) => l.level === 'debug' && l.msg.startsWith('configuration ')), 'debug detail');
      assert.ok(lines.some((l) => l.level === 'debug' && l.msg === 'control socket: status'));
      assert.deepEqual(readdirSync(i.logDir), ['daily.log.debug']);
    } finally {
      await i.cleanup();
    }
  });

  it('two named instances side by side as an ordinary user: XDG folders, own pid, logs and state', async (ctx) => {
    if (process.getuid?.() !== 0) {
      ctx.skip('needs root to run the CLI as "nobody"');
      return;
    }
    const t = tempDir('svc-xdg');
    const user = { uid: 65534, gid: 65534 };
    const home = join(t.path, 'home');
    const runtime = join(t.path, 'runtime');
    const env = { HOME: home, XDG_STATE_HOME: join(home, '.local', 'state'), XDG_RUNTIME_DIR: runtime };
    const names = [`xdg-a-${process.pid}`, `xdg-b-${process.pid}`];
    const cfgs: string[] = [];
    try {
      chmodSync(t.path, 0o755);
      for (const dir of [home, runtime]) {
        mkdirSync(dir);
        chownSync(dir, user.uid, user.gid);
      }
      chmodSync(runtime, 0o700);
      for (const n of names) {
        const base = join(t.path, n);
        mkdirSync(join(base, 'src'), { recursive: true });
        writeFileSync(join(base, 'src', `${n}.txt`), n);
        chownSync(base, user.uid, user.gid);
        chownSync(join(base, 'src'), user.uid, user.gid);
        const cfg = join(base, 'site.yaml');
        writeFileSync(cfg, `name: ${n}\nsyncs:\n  - source: ./src\n    targets:\n      - url: ./dst\n`);
        cfgs.push(cfg);
      }
      const outs: RunResult[] = [];
      for (const cfg of cfgs) outs.push(ok(await runCli(['start', '-c', cfg], { ...user, env }), `start ${cfg}`));
      assert.match(outs[0]!.stdout, /not root: pid file and control socket in .*runtime\/sync-inotify/);
      assert.match(outs[0]!.stdout, /not root: logs in .*home\/\.local\/state\/sync-inotify\/log\//);
      const pids = outs.map(pidOf);
      assert.notEqual(pids[0], pids[1]);
      for (const [k, n] of names.entries()) {
        const base = join(t.path, n);
        await waitForSame(join(base, 'src'), join(base, 'dst'), 20_000);
        assert.equal(readFileSync(join(runtime, 'sync-inotify', `${n}.pid`), 'utf8').trim(), String(pids[k]));
        assert.equal(statSync(join(runtime, 'sync-inotify', `${n}.sock`)).uid, user.uid);
        const log = join(env.XDG_STATE_HOME, 'sync-inotify', 'log', n, 'daily.log');
        await waitUntil(`put in ${log}`, () => puts(log).includes(`${n}.txt`));
        assert.ok(existsSync(join(env.XDG_STATE_HOME, 'sync-inotify', `${n}.db`)));
        const s = JSON.parse(ok(await runCli(['status', '--json', '-c', cfgs[k]!], { ...user, env }), 'status').stdout) as { pid: number; name: string };
        assert.deepEqual([s.name, s.pid], [n, pids[k]]);
      }
      // The control socket is owner-only: root may ask, another user may not connect.
      for (const cfg of cfgs) ok(await runCli(['stop', '-c', cfg], { ...user, env }), `stop ${cfg}`);
      for (const pid of pids) assert.ok(!isAlive(pid));
    } finally {
      for (const cfg of cfgs) await runCli(['stop', '-c', cfg], { ...user, env }).catch(() => undefined);
      t.cleanup();
    }
  });

  it('no log line and no status output shows a password (debug on, target failing)', async () => {
    const i = instance('secret', 'debug: true\n');
    const inline = 'InlinePw-4711';
    const keyed = 'KeyedPw-0815';
    try {
      writeFileSync(
        i.cfg,
        readFileSync(i.cfg, 'utf8').replace(
          '      - url: ./dst\n',
          `      - url: ./dst\n      - url: ftp://deploy:${inline}@127.0.0.1:1/inline\n      - url: ftp://deploy@127.0.0.1:1/keyed\n        password: ${keyed}\n`,
        ),
      );
      writeFileSync(join(i.src, 'a.txt'), 'a');
      const out: RunResult[] = [];
      out.push(ok(await runCli(['start', '-c', i.cfg]), 'start'));
      const file = join(i.logDir, 'daily.log.debug');
      await waitUntil('both FTP targets to fail at least once', () => (readText(file).match(/target unavailable/g) ?? []).length >= 2, 30_000, () => readText(file));
      const status = await runCli(['status', '-c', i.cfg]);
      assert.equal(status.code, 0);
      assert.match(status.stdout, /retrying: /);
      assert.match(status.stdout, /ftp:\/\/deploy(:\*\*\*)?@127\.0\.0\.1:1/);
      out.push(status, await runCli(['status', '--json', '-c', i.cfg]));
      out.push(ok(await runCli(['stop', '-c', i.cfg]), 'stop'));
      const everything = [readText(file), ...out.map((r) => r.stdout + r.stderr)].join('\n');
      for (const secret of [inline, keyed]) assert.ok(!everything.includes(secret), `${secret} leaked:\n${everything}`);
    } finally {
      await i.cleanup();
    }
  });
});
