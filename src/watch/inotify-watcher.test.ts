/**
 * InotifyWatcher against the real file system, through the built binding: the DirWatcher
 * cases (recursion, renames, deletes, byte names, filters, resource errors, clean exit) plus
 * what only it sees: files closed after writing, a rename out of the tree dropping the
 * kernel's watches, and a real queue overflow. Under CI=true a binding that was not built is a
 * failure (the install builds it), elsewhere a loud skip.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createPathFilter } from '../core/filter.ts';
import type { Scope } from '../core/scope.ts';
import { loadInotifyBinding, type InotifyBinding } from './inotify-binding.ts';
import { InotifyWatcher, type InotifyWatcherOptions } from './inotify-watcher.ts';

const WAIT_MS = 5_000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const loaded = loadInotifyBinding();
const binding: InotifyBinding | undefined = 'binding' in loaded ? loaded.binding : undefined;
const missing = 'reason' in loaded ? loaded.reason : undefined;
if (missing !== undefined) {
  if (process.env['CI'] === 'true') throw new Error(`the inotify binding is not available (${missing}): npm ci builds it (native/build.mjs); CI=true, so this is a failure`);
  process.stderr.write(`\n*** SKIPPING InotifyWatcher tests: ${missing} ***\n\n`);
}

class Recorder {
  hints: Scope[] = [];
  lost: string[] = [];
  notes: string[] = [];
  readonly callbacks = {
    onHints: (h: Scope[]) => void this.hints.push(...h),
    onLost: (reason: string) => void this.lost.push(reason),
    onNote: (m: string) => void this.notes.push(m),
  };

  covered(path: string): boolean {
    return this.hints.some((h) => h.path === path || (h.deep && (h.path === '' || path.startsWith(`${h.path}/`))));
  }

  hinted(path: string, deep?: boolean): boolean {
    return this.hints.some((h) => h.path === path && (deep === undefined || h.deep === deep));
  }

  async waitFor(what: string, ok: () => boolean, ms = WAIT_MS): Promise<void> {
    const deadline = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; hints: ${JSON.stringify(this.hints.slice(0, 50))}; lost: ${JSON.stringify(this.lost)}`);
      await sleep(5);
    }
  }
}

/** Inotify watches this process holds, from the kernel's own bookkeeping. */
function kernelWatches(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    let link = '';
    try {
      link = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (link === 'anon_inode:inotify') n += readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n').filter((l) => l.startsWith('inotify wd:')).length;
  }
  return n;
}

describe('InotifyWatcher', { skip: missing }, () => {
  let base: string;
  let root: string;
  let rec: Recorder;
  let watcher: InotifyWatcher | undefined;

  beforeEach(() => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'si-inotify-')));
    root = join(base, 'root');
    mkdirSync(root);
    rec = new Recorder();
  });
  afterEach(async () => {
    await watcher?.stop();
    watcher = undefined;
    rmSync(base, { recursive: true, force: true });
  });

  async function start(options: InotifyWatcherOptions = {}): Promise<InotifyWatcher> {
    watcher = new InotifyWatcher(root, rec.callbacks, binding!, options);
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
    assert.equal(kernelWatches(), 11);
    rec.hints = [];
    writeFileSync(join(root, ...levels, 'late'), 'x');
    await rec.waitFor('the late write hinted', () => rec.hinted(`${chain[9]}/late`, false));
  });

  it('a file written and closed is hinted closed; one still open for writing is not, until it is closed', async () => {
    await start();
    writeFileSync(join(root, 'done'), 'complete');
    await rec.waitFor('the closed file', () => rec.hints.some((h) => h.path === 'done' && h.closed === true));
    rec.hints = [];
    const fd = openSync(join(root, 'open'), 'w');
    writeSync(fd, 'partial');
    await rec.waitFor('the open file hinted', () => rec.hinted('open'));
    await sleep(50);
    assert.ok(
      rec.hints.filter((h) => h.path === 'open').every((h) => h.closed !== true),
      `a file still open for writing is never hinted closed: ${JSON.stringify(rec.hints)}`,
    );
    writeSync(fd, ' and the rest');
    closeSync(fd);
    await rec.waitFor('closed once closed', () => rec.hints.some((h) => h.path === 'open' && h.closed === true));
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

  it('a directory renamed inside the tree keeps its watches under the new name; none under the old', async () => {
    mkdirSync(join(root, 'old', 'sub'), { recursive: true });
    mkdirSync(join(root, 'other'));
    const w = await start();
    assert.equal(kernelWatches(), 4);
    renameSync(join(root, 'old'), join(root, 'new'));
    await rec.waitFor('old deep and new hinted', () => rec.hinted('old', true) && rec.hinted('new'));
    assert.deepEqual(w.watchedDirs(), ['', 'new', 'new/sub', 'other']);
    renameSync(join(root, 'new', 'sub'), join(root, 'other', 'moved'));
    await rec.waitFor('cross-parent rename hinted', () => rec.hinted('new/sub', true) && rec.hinted('other/moved'));
    assert.deepEqual(w.watchedDirs(), ['', 'new', 'other', 'other/moved']);
    assert.equal(kernelWatches(), 4, 'the same watches, moved: none added, none leaked');
    rec.hints = [];
    writeFileSync(join(root, 'new', 'a'), '1');
    writeFileSync(join(root, 'other', 'moved', 'b'), '2');
    await rec.waitFor('writes under the new names', () => rec.hinted('new/a', false) && rec.hinted('other/moved/b', false));
    await sleep(100);
    assert.deepEqual(
      rec.hints.filter((h) => h.path.startsWith('old') || h.path.startsWith('new/sub')),
      [],
      'no hint names an old path',
    );
  });

  it('a directory moved out of the tree: deep hint, its kernel watches dropped, nothing outside is hinted', async () => {
    mkdirSync(join(root, 'leaving', 'deep'), { recursive: true });
    const w = await start();
    assert.equal(kernelWatches(), 3);
    renameSync(join(root, 'leaving'), join(base, 'outside'));
    await rec.waitFor('deep hint for the moved-out directory', () => rec.hinted('leaving', true));
    assert.deepEqual(w.watchedDirs(), ['']);
    await rec.waitFor('its kernel watches removed', () => kernelWatches() === 1);
    rec.hints = [];
    writeFileSync(join(base, 'outside', 'deep', 'f'), 'x');
    writeFileSync(join(root, 'control'), 'x');
    await rec.waitFor('the control write', () => rec.hinted('control'));
    await sleep(50);
    assert.deepEqual(rec.hints.filter((h) => h.path !== 'control'), [], 'nothing from outside the tree');
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

  it('rm -rf of a watched tree: deep hint, all unwatched (kernel too); one recreated at the same path is watched again', async () => {
    mkdirSync(join(root, 'd', 'e', 'f'), { recursive: true });
    writeFileSync(join(root, 'd', 'e', 'f', 'g'), 'x');
    const w = await start();
    assert.deepEqual(w.watchedDirs(), ['', 'd', 'd/e', 'd/e/f']);
    rmSync(join(root, 'd'), { recursive: true });
    await rec.waitFor('deep hint for the deleted directory', () => rec.hinted('d', true));
    await rec.waitFor('its watches gone', () => w.watchedDirs().length === 1);
    await rec.waitFor('and the kernel watches', () => kernelWatches() === 1);
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
    assert.deepEqual(
      rec.hints.filter((h) => /^cache\/|^link\/|^keep\/cache\/|sync-inotify/.test(h.path)),
      [],
    );
  });

  it('a queue overflow (events not read for a while) is one onLost at once; the watches are brought up to date with what changed meanwhile', async () => {
    const max = Number(readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8'));
    mkdirSync(join(root, 'gone-during', 'sub'), { recursive: true });
    mkdirSync(join(root, 'renamed-during', 'sub'), { recursive: true });
    const w = await start();
    assert.equal(kernelWatches(), 5);
    // The watcher reads on this event loop: while this loop runs synchronously, nothing is
    // read, so more events than the queue holds overflow it, without touching the sysctl.
    const files = Math.ceil(max / 2) + 100; // each file: IN_CREATE, IN_CLOSE_WRITE (+ IN_MODIFY)
    for (let i = 0; i < files; i++) writeFileSync(join(root, `f${i}`), 'x');
    // Past the overflow, the events of these are lost: only the re-walk can tell.
    mkdirSync(join(root, 'made-during-overflow', 'below'), { recursive: true });
    rmSync(join(root, 'gone-during'), { recursive: true });
    renameSync(join(root, 'renamed-during'), join(root, 'renamed-after'));
    await rec.waitFor('onLost for the overflow', () => rec.lost.some((l) => /queue overflowed \(fs\.inotify\.max_queued_events = \d+\)/.test(l)));
    await rec.waitFor('the new directories watched by the re-walk', () => w.watchedDirs().includes('made-during-overflow/below'));
    assert.equal(rec.lost.length, 1, rec.lost.join('\n'));
    assert.deepEqual(w.watchedDirs(), ['', 'made-during-overflow', 'made-during-overflow/below', 'renamed-after', 'renamed-after/sub']);
    await rec.waitFor('the kernel holds exactly those watches', () => kernelWatches() === 5);
    rec.hints = [];
    writeFileSync(join(root, 'made-during-overflow', 'below', 'seen'), 'x');
    await rec.waitFor('a write in it hinted', () => rec.hinted('made-during-overflow/below/seen'));
  });

  it('the inotify watch limit (ENOSPC) is one onLost that says how to raise it, never a throw', async () => {
    mkdirSync(join(root, 'full1', 'below'), { recursive: true });
    mkdirSync(join(root, 'full2'));
    mkdirSync(join(root, 'fine'));
    const addWatch: InotifyWatcherOptions['addWatch'] = (h, path, mask) => {
      if (/full/.test(path.toString())) throw Object.assign(new Error('ENOSPC: No space left on device, inotify_add_watch'), { code: 'ENOSPC' });
      return h.addWatch(path, mask);
    };
    const w = await start({ addWatch });
    assert.deepEqual(w.watchedDirs(), ['', 'fine']);
    assert.equal(rec.lost.length, 1, rec.lost.join('\n'));
    assert.match(rec.lost[0]!, /3 directories under .* could not be watched/);
    assert.match(rec.lost[0]!, /fs\.inotify\.max_user_watches = \d+/);
    assert.match(rec.lost[0]!, /sudo sysctl fs\.inotify\.max_user_watches=/);
    assert.match(rec.lost[0]!, /this watcher holds 2 watches now/);
    mkdirSync(join(root, 'fine', 'full3'));
    await rec.waitFor('a second onLost', () => rec.lost.length === 2);
    writeFileSync(join(root, 'full2', 'x'), 'x');
    renameSync(join(root, 'full2'), join(root, 'full2b'));
    await rec.waitFor('the rename hinted', () => rec.hinted('full2b'));
    await sleep(50);
    assert.equal(rec.lost.length, 3, 'full2b is a new path: one more report');
  });

  it('the real watch limit: the true count of unwatched directories; once watches are free, all are watched', async (ctx) => {
    const probe = spawnSync('unshare', ['-Ur', 'sh', '-c', 'echo 5 > /proc/sys/user/max_inotify_watches'], { stdio: 'ignore' });
    if (probe.status !== 0) return ctx.skip('unshare -Ur cannot set a namespace watch limit here');
    const self = fileURLToPath(new URL('./inotify-watcher.ts', import.meta.url));
    const loader = fileURLToPath(new URL('./inotify-binding.ts', import.meta.url));
    const script = `
      import { mkdirSync, writeFileSync } from 'node:fs';
      import { InotifyWatcher } from ${JSON.stringify(self)};
      import { loadInotifyBinding } from ${JSON.stringify(loader)};
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      const root = ${JSON.stringify(root)};
      for (let i = 0; i < 6; i++) mkdirSync(root + '/d' + i + '/a/b', { recursive: true });
      writeFileSync('/proc/sys/user/max_inotify_watches', '8');
      const out = { lost: [], notes: [], hints: [] };
      const w = new InotifyWatcher(root, { onHints: (h) => out.hints.push(...h), onLost: (r) => out.lost.push(r), onNote: (m) => out.notes.push(m) }, loadInotifyBinding().binding);
      await w.start();
      out.watchedAtStart = w.watchedDirs().length;
      await sleep(2500);
      out.watchedStillLimited = w.watchedDirs().length;
      writeFileSync('/proc/sys/user/max_inotify_watches', '1000');
      const t0 = Date.now();
      while (w.watchedDirs().length < 19 && Date.now() - t0 < 30000) await sleep(50);
      out.watchedAfter = w.watchedDirs().length;
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
    assert.equal(out.watchedAtStart, 8);
    assert.equal(out.lost.length, 1, out.lost.join('\n'));
    assert.match(out.lost[0]!, /inotify watch limit reached .*: 11 directories under .* could not be watched; retrying.*this watcher holds 8 watches now/);
    assert.equal(out.watchedStillLimited, 8);
    assert.equal(out.watchedAfter, 19, JSON.stringify(out));
    assert.match(out.notes.at(-1) ?? '', /all directories under .* are watched/);
    assert.ok(out.deepHints.length > 0);
    assert.equal(out.sawDeepChange, true);
  });

  it('stop() releases the descriptor: a process that starts and stops it exits by itself', async () => {
    const self = fileURLToPath(new URL('./inotify-watcher.ts', import.meta.url));
    const loader = fileURLToPath(new URL('./inotify-binding.ts', import.meta.url));
    const script = `
      import { mkdirSync, writeFileSync } from 'node:fs';
      import { InotifyWatcher } from ${JSON.stringify(self)};
      import { loadInotifyBinding } from ${JSON.stringify(loader)};
      const root = ${JSON.stringify(root)};
      for (let i = 0; i < 20; i++) mkdirSync(root + '/d' + i + '/e', { recursive: true });
      let seen;
      const got = new Promise((r) => (seen = r));
      const w = new InotifyWatcher(root, { onHints: (h) => seen(h), onLost: () => {} }, loadInotifyBinding().binding);
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
        // The process gets 2 s to exit once it printed 'done' (its start, through tsx on a
        // loaded machine, may take longer than that by itself); 30 s in all.
        const kill = () => {
          child.kill('SIGKILL');
          resolve({ exited: false, code: null, out });
        };
        let timer = setTimeout(kill, 30_000);
        const onData = (d: Buffer) => {
          const before = out;
          out += d.toString();
          if (!/done/.test(before) && /done/.test(out)) {
            clearTimeout(timer);
            timer = setTimeout(kill, 2_000);
          }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolve({ exited: true, code, out });
        });
      });
    const stopped = await run('stop');
    assert.equal(stopped.exited, true, `did not exit after stop(): ${stopped.out}`);
    assert.equal(stopped.code, 0, stopped.out);
    assert.match(stopped.out, /done/);
    rmSync(root, { recursive: true });
    mkdirSync(root);
    const leaked = await run('nostop');
    assert.match(leaked.out, /done/);
    assert.equal(leaked.exited, false, 'a running watcher keeps the process alive');
  });
});
