/**
 * DirWatcher against the real file system (inotify through fs.watch): recursion over new and
 * moved-in trees, renames, deletes, filters, resource errors, and a clean exit after stop().
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync, watch as fsWatch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createPathFilter } from '../core/filter.ts';
import type { Scope } from '../core/scope.ts';
import { DirWatcher, type DirWatcherOptions, type WatchFn } from './dir-watcher.ts';

const WAIT_MS = 5_000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Collects what a watcher reports. */
class Recorder {
  hints: Scope[] = [];
  lost: string[] = [];
  readonly callbacks = {
    onHints: (h: Scope[]) => void this.hints.push(...h),
    onLost: (reason: string) => void this.lost.push(reason),
  };

  /** The path was hinted itself, or a deep hint covers it. */
  covered(path: string): boolean {
    return this.hints.some((h) => h.path === path || (h.deep && (h.path === '' || path.startsWith(`${h.path}/`))));
  }

  hinted(path: string, deep?: boolean): boolean {
    return this.hints.some((h) => h.path === path && (deep === undefined || h.deep === deep));
  }

  async waitFor(what: string, ok: () => boolean, ms = WAIT_MS): Promise<void> {
    const deadline = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; hints: ${JSON.stringify(this.hints)}`);
      await sleep(5);
    }
  }
}

describe('DirWatcher', () => {
  let base: string;
  let root: string;
  let rec: Recorder;
  let watcher: DirWatcher | undefined;

  beforeEach(() => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'si-dirwatch-')));
    root = join(base, 'root');
    mkdirSync(root);
    rec = new Recorder();
  });
  afterEach(async () => {
    await watcher?.stop();
    watcher = undefined;
    rmSync(base, { recursive: true, force: true });
  });

  async function start(options: DirWatcherOptions = {}): Promise<DirWatcher> {
    watcher = new DirWatcher(root, rec.callbacks, options);
    await watcher.start();
    return watcher;
  }

  it('mkdir -p 10 levels, then files inside: every path is covered, and every level is watched', async () => {
    const w = await start();
    const levels = Array.from({ length: 10 }, (_, i) => `l${i}`);
    mkdirSync(join(root, ...levels), { recursive: true });
    const paths: string[] = [];
    for (let i = 1; i <= levels.length; i++) {
      const dir = levels.slice(0, i).join('/');
      writeFileSync(join(root, dir, `f${i}`), `${i}`);
      paths.push(dir, `${dir}/f${i}`);
    }
    await rec.waitFor('every created path covered', () => paths.every((p) => rec.covered(p)));
    const chain = levels.map((_, i) => levels.slice(0, i + 1).join('/'));
    await rec.waitFor('all 10 levels watched', () => chain.every((d) => w.watchedDirs().includes(d)));
    assert.deepEqual(w.watchedDirs(), ['', ...chain]);
    // A later write at the bottom comes from the bottom directory's own watch.
    rec.hints = [];
    writeFileSync(join(root, ...levels, 'late'), 'x');
    await rec.waitFor('the late write hinted', () => rec.hinted(`${chain[9]}/late`, false));
  });

  it('a directory moved in from outside the tree: hinted deep, and watched with all its subdirectories', async () => {
    const outside = join(base, 'outside');
    mkdirSync(join(outside, 'sub', 'subsub'), { recursive: true });
    writeFileSync(join(outside, 'sub', 'subsub', 'f'), 'x');
    const w = await start();
    renameSync(outside, join(root, 'in'));
    await rec.waitFor('the moved-in directory hinted deep', () => rec.hinted('in', true));
    assert.ok(rec.covered('in/sub/subsub/f'));
    assert.deepEqual(w.watchedDirs(), ['', 'in', 'in/sub', 'in/sub/subsub']);
    rec.hints = [];
    writeFileSync(join(root, 'in', 'sub', 'subsub', 'g'), 'y');
    await rec.waitFor('a write in the moved-in tree', () => rec.hinted('in/sub/subsub/g', false));
  });

  it('a directory renamed inside the tree: writes under the new name are hinted, none under the old', async () => {
    mkdirSync(join(root, 'old', 'sub'), { recursive: true });
    mkdirSync(join(root, 'other'));
    const w = await start();
    renameSync(join(root, 'old'), join(root, 'new'));
    await rec.waitFor('old deep and new hinted', () => rec.hinted('old', true) && rec.hinted('new'));
    assert.deepEqual(w.watchedDirs(), ['', 'new', 'new/sub', 'other']);
    // Across parents too.
    renameSync(join(root, 'new', 'sub'), join(root, 'other', 'moved'));
    await rec.waitFor('cross-parent rename hinted', () => rec.hinted('new/sub', true) && rec.hinted('other/moved'));
    assert.deepEqual(w.watchedDirs(), ['', 'new', 'other', 'other/moved']);
    rec.hints = [];
    writeFileSync(join(root, 'new', 'a'), '1');
    writeFileSync(join(root, 'other', 'moved', 'b'), '2');
    await rec.waitFor('writes under the new names', () => rec.hinted('new/a', false) && rec.hinted('other/moved/b', false));
    await sleep(100);
    const stale = rec.hints.filter((h) => h.path.startsWith('old') || h.path.startsWith('new/sub'));
    assert.deepEqual(stale, [], 'no hint names an old path');
  });

  it('names that are not valid UTF-8 are kept exactly: watched, hinted and renamed by their bytes', async () => {
    const x = (byte: number) => String.fromCharCode(0xdc00 + byte);
    const bytes = (...parts: (string | number)[]) => Buffer.concat(parts.map((p) => (typeof p === 'number' ? Buffer.of(p) : Buffer.from(p))));
    const rootBytes = Buffer.from(`${root}/`);
    mkdirSync(Buffer.concat([rootBytes, bytes('dir', 0xff)]));
    const w = await start();
    assert.deepEqual(w.watchedDirs(), ['', `dir${x(0xff)}`]);
    writeFileSync(Buffer.concat([rootBytes, bytes('dir', 0xff, '/in', 0xfe)]), 'x');
    writeFileSync(Buffer.concat([rootBytes, bytes('bad', 0xff, 'name')]), 'y');
    await rec.waitFor('both files hinted by their exact names', () => rec.hinted(`dir${x(0xff)}/in${x(0xfe)}`, false) && rec.hinted(`bad${x(0xff)}name`, false));
    mkdirSync(join(root, 'docs'));
    await rec.waitFor('docs watched', () => w.watchedDirs().includes('docs'));
    renameSync(join(root, 'docs'), Buffer.concat([rootBytes, bytes('docs', 0xe9)]));
    await rec.waitFor('the rename hinted under the new name', () => rec.hinted('docs', true) && rec.hinted(`docs${x(0xe9)}`));
    assert.deepEqual(w.watchedDirs(), ['', `dir${x(0xff)}`, `docs${x(0xe9)}`]);
    assert.ok(!rec.hints.some((h) => h.path.includes('\ufffd')), 'no name decoded lossily');
  });

  it('a watched directory deleted: deep hint, unwatched; one recreated at the same path is watched again', async () => {
    mkdirSync(join(root, 'd', 'e'), { recursive: true });
    writeFileSync(join(root, 'd', 'e', 'f'), 'x');
    const w = await start();
    assert.deepEqual(w.watchedDirs(), ['', 'd', 'd/e']);
    rmSync(join(root, 'd'), { recursive: true });
    await rec.waitFor('deep hint for the deleted directory', () => rec.hinted('d', true));
    await rec.waitFor('its watches closed', () => w.watchedDirs().length === 1);
    assert.deepEqual(w.watchedDirs(), ['']);
    mkdirSync(join(root, 'd'));
    await rec.waitFor('the new d watched', () => w.watchedDirs().includes('d'));
    rec.hints = [];
    writeFileSync(join(root, 'd', 'again'), 'y');
    await rec.waitFor('a write in the recreated directory', () => rec.hinted('d/again', false));
  });

  it('excluded directories, symlinked directories and temp names are not watched or hinted', async () => {
    mkdirSync(join(root, 'cache', 'deep'), { recursive: true });
    mkdirSync(join(root, 'keep'));
    const elsewhere = join(base, 'elsewhere');
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(root, 'link'));
    const w = await start({ filter: createPathFilter({ exclude: ['cache/'] }) });
    assert.deepEqual(w.watchedDirs(), ['', 'keep']);
    // A new directory matching the exclusion, created while running, is not watched either.
    mkdirSync(join(root, 'keep', 'cache'));
    writeFileSync(join(root, 'cache', 'deep', 'f'), 'x');
    writeFileSync(join(root, 'cache', 'g'), 'x');
    writeFileSync(join(elsewhere, 'h'), 'x');
    writeFileSync(join(root, 'keep', '.f.sync-inotify-abc123.tmp'), 'x');
    await rec.waitFor('the new keep/cache hinted', () => rec.hinted('keep/cache'));
    writeFileSync(join(root, 'keep', 'cache', 'i'), 'x');
    writeFileSync(join(root, 'keep', 'control'), 'x');
    await rec.waitFor('the control write', () => rec.hinted('keep/control'));
    await sleep(100);
    assert.deepEqual(w.watchedDirs(), ['', 'keep']);
    const unwanted = rec.hints.filter((h) => /^cache\/|^link\/|^keep\/cache\/|sync-inotify/.test(h.path));
    assert.deepEqual(unwanted, []);
  });

  it('the inotify watch limit (ENOSPC) is one onLost that says how to raise it, never a throw', async () => {
    mkdirSync(join(root, 'full1', 'below'), { recursive: true });
    mkdirSync(join(root, 'full2'));
    mkdirSync(join(root, 'fine'));
    const watchFn: WatchFn = (path, listener) => {
      if (/full/.test(path)) throw Object.assign(new Error(`ENOSPC: System limit for number of file watchers reached, watch '${path}'`), { code: 'ENOSPC' });
      return fsWatch(path, listener);
    };
    const w = await start({ watch: watchFn });
    assert.deepEqual(w.watchedDirs(), ['', 'fine']);
    assert.equal(rec.lost.length, 1, rec.lost.join('\n'));
    // full1, full1/below (under it, so not watchable before it) and full2.
    assert.match(rec.lost[0]!, /3 directories under .* could not be watched/);
    assert.match(rec.lost[0]!, /fs\.inotify\.max_user_watches = \d+/);
    assert.match(rec.lost[0]!, /sudo sysctl fs\.inotify\.max_user_watches=/);
    // Still limited when a new directory appears: reported again, still no throw.
    mkdirSync(join(root, 'fine', 'full3'));
    await rec.waitFor('a second onLost', () => rec.lost.length === 2);
    // A known failure is retried on its next event, but not reported twice.
    writeFileSync(join(root, 'full2', 'x'), 'x');
    renameSync(join(root, 'full2'), join(root, 'full2b'));
    await rec.waitFor('the rename hinted', () => rec.hinted('full2b'));
    await sleep(50);
    assert.equal(rec.lost.length, 3, 'full2b is a new path: one more report');
  });

  it('the real watch limit: the true count of unwatched directories; once watches are free, all are watched without a rescan timer', async (ctx) => {
    // A user namespace of its own has its own inotify watch limit (user.max_inotify_watches,
    // counted per namespace since Linux 5.11): the exact limit for this test, without
    // lowering the machine-wide fs.inotify.max_user_watches under everything else running.
    const probe = spawnSync('unshare', ['-Ur', 'sh', '-c', 'echo 5 > /proc/sys/user/max_inotify_watches'], { stdio: 'ignore' });
    if (probe.status !== 0) return ctx.skip('unshare -Ur cannot set a namespace watch limit here');
    const self = fileURLToPath(new URL('./dir-watcher.ts', import.meta.url));
    const script = `
      import { mkdirSync, writeFileSync } from 'node:fs';
      import { DirWatcher } from ${JSON.stringify(self)};
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      const root = ${JSON.stringify(root)};
      for (let i = 0; i < 6; i++) mkdirSync(root + '/d' + i + '/a/b', { recursive: true });
      writeFileSync('/proc/sys/user/max_inotify_watches', '8');
      const out = { lost: [], notes: [], hints: [] };
      const w = new DirWatcher(root, { onHints: (h) => out.hints.push(...h), onLost: (r) => out.lost.push(r), onNote: (m) => out.notes.push(m) });
      await w.start();
      out.watchedAtStart = w.watchedDirs().length;
      await sleep(2500);
      out.watchedStillLimited = w.watchedDirs().length;
      writeFileSync('/proc/sys/user/max_inotify_watches', '1000');
      const t0 = Date.now();
      while (w.watchedDirs().length < 19 && Date.now() - t0 < 30000) await sleep(50);
      out.watchedAfter = w.watchedDirs().length;
      out.secondsToWatchAll = (Date.now() - t0) / 1000;
      out.deepHints = out.hints.filter((h) => h.deep).map((h) => h.path);
      out.hints = [];
      writeFileSync(root + '/d5/a/b/f', 'x');
      const t1 = Date.now();
      while (!out.hints.some((h) => h.path === 'd5/a/b/f') && Date.now() - t1 < 5000) await sleep(20);
      out.sawDeepChange = out.hints.some((h) => h.path === 'd5/a/b/f');
      await w.stop();
      console.log(JSON.stringify(out));
    `;
    const r = spawnSync('unshare', ['-Ur', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { lost: string[]; notes: string[]; watchedAtStart: number; watchedStillLimited: number; watchedAfter: number; deepHints: string[]; sawDeepChange: boolean };
    // 19 directories (the root, and d0…d5 with a and a/b under each), 8 watches.
    assert.equal(out.watchedAtStart, 8);
    assert.equal(out.lost.length, 1, out.lost.join('\n'));
    assert.match(out.lost[0]!, /: 11 directories under .* could not be watched; retrying/);
    assert.equal(out.watchedStillLimited, 8, 'a retry while still limited changes nothing');
    assert.equal(out.watchedAfter, 19, JSON.stringify(out));
    assert.match(out.notes.at(-1) ?? '', /all directories under .* are watched/);
    assert.ok(out.deepHints.length > 0, 'the directories watched late are rescanned');
    assert.equal(out.sawDeepChange, true, 'a change in a directory watched late is seen');
  });

  it('stop() releases every handle: a process that starts and stops it exits by itself', async () => {
    const self = fileURLToPath(new URL('./dir-watcher.ts', import.meta.url));
    const script = `
      import { mkdirSync, writeFileSync } from 'node:fs';
      import { DirWatcher } from ${JSON.stringify(self)};
      const root = ${JSON.stringify(root)};
      for (let i = 0; i < 20; i++) mkdirSync(root + '/d' + i + '/e', { recursive: true });
      let seen;
      const got = new Promise((r) => (seen = r));
      const w = new DirWatcher(root, { onHints: (h) => seen(h), onLost: () => {} });
      await w.start();
      writeFileSync(root + '/d3/e/f', 'x');
      await got;
      if (process.argv[1] !== 'nostop') await w.stop();
      console.log('done');
    `;
    const run = (arg: string) =>
      new Promise<{ exited: boolean; code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, arg], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve({ exited: false, code: null, out });
        }, 4_000);
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolve({ exited: true, code, out });
        });
      });
    const stopped = await run('stop');
    assert.equal(stopped.exited, true, `did not exit after stop(): ${stopped.out}`);
    assert.equal(stopped.code, 0, stopped.out);
    assert.match(stopped.out, /done/);
    // The control: without stop() the watches keep the process alive, so the check above can fail.
    rmSync(root, { recursive: true });
    mkdirSync(root);
    const leaked = await run('nostop');
    assert.match(leaked.out, /done/);
    assert.equal(leaked.exited, false, 'a running watcher keeps the process alive');
  });
});
