/**
 * End to end through the CLI process, real file system, real watcher: the cases of issue 2.
 * Each test starts its own daemon on fresh folders and ends by comparing trees byte for byte.
 */
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, chownSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Daemon, runCli, sleep, tempDir, treeDifference, waitForSame } from './harness.ts';

const CONVERGE_MS = 15_000;

interface Setup {
  root: string;
  src: string;
  dst: string;
  db: string;
  cleanup(): void;
}

function setup(name: string): Setup {
  const t = tempDir(name);
  const src = join(t.path, 'src');
  const dst = join(t.path, 'dst');
  mkdirSync(src);
  return { root: t.path, src, dst, db: join(t.path, 'state.db'), cleanup: t.cleanup };
}

async function withDaemon(name: string, body: (s: Setup, d: Daemon) => Promise<void>): Promise<void> {
  const s = setup(name);
  const d = await Daemon.start([s.src, s.dst, '--state', s.db]);
  try {
    await body(s, d);
  } finally {
    await d.stop();
    s.cleanup();
  }
}

describe('e2e: local folder mirror through the CLI', { concurrency: 1 }, () => {
  it('mkdir -p 30 levels deep with a file at each level', () =>
    withDaemon('mkdirp', async (s, d) => {
      const levels = Array.from({ length: 30 }, (_, i) => `level${i}`);
      mkdirSync(join(s.src, ...levels), { recursive: true });
      for (let i = 1; i <= levels.length; i++) writeFileSync(join(s.src, ...levels.slice(0, i), `file${i}.txt`), `depth ${i}\n`);
      await waitForSame(s.src, s.dst, CONVERGE_MS, d);
    }));

  it('a burst of 10,000 files in 100 directories', () =>
    withDaemon('burst', async (s, d) => {
      for (let i = 0; i < 100; i++) {
        const dir = join(s.src, `d${i}`);
        mkdirSync(dir);
        for (let j = 0; j < 100; j++) writeFileSync(join(dir, `f${j}`), `file ${i}/${j} `.repeat((j % 7) + 1));
      }
      await waitForSame(s.src, s.dst, 60_000, d);
      const counts = d.opCounts();
      assert.equal(counts['put'], 10_000, 'each file sent exactly once');
      assert.equal(counts['mkdir'], 100);
    }));

  it('files and directories created and removed within milliseconds cost nothing and break nothing', () =>
    withDaemon('flicker', async (s, d) => {
      for (let i = 0; i < 50; i++) {
        mkdirSync(join(s.src, `gone${i}`));
        writeFileSync(join(s.src, `gone${i}`, 'x'), 'x');
        rmSync(join(s.src, `gone${i}`), { recursive: true });
        writeFileSync(join(s.src, `tmp${i}`), 'y');
        rmSync(join(s.src, `tmp${i}`));
      }
      writeFileSync(join(s.src, 'stays'), 'ok');
      await waitForSame(s.src, s.dst, CONVERGE_MS, d);
      await sleep(300);
      assert.deepEqual(readdirSync(s.dst), ['stays']);
      assert.doesNotMatch(d.output, /ERROR|WARN/);
    }));

  it('renames of files and of non-empty directories are renames on the target', () =>
    withDaemon('renames', async (s, d) => {
      mkdirSync(join(s.src, 'tree/sub'), { recursive: true });
      for (let i = 0; i < 20; i++) writeFileSync(join(s.src, 'tree/sub', `f${i}`), `content ${i}`);
      writeFileSync(join(s.src, 'single'), 'single file');
      await waitForSame(s.src, s.dst, CONVERGE_MS, d);
      const putsBefore = d.opCounts()['put'] ?? 0;
      renameSync(join(s.src, 'tree'), join(s.src, 'moved-tree'));
      renameSync(join(s.src, 'single'), join(s.src, 'moved-tree', 'single-renamed'));
      await waitForSame(s.src, s.dst, CONVERGE_MS, d);
      assert.equal(d.opCounts()['put'] ?? 0, putsBefore, 'no file was uploaded again');
      assert.ok((d.opCounts()['rename'] ?? 0) >= 2);
    }));

  it('renaming a directory of 1,000 files costs one rename', () =>
    withDaemon('rename1000', async (s, d) => {
      mkdirSync(join(s.src, 'big'));
      for (let i = 0; i < 1000; i++) writeFileSync(join(s.src, 'big', `f${i}`), `f${i}`);
      await waitForSame(s.src, s.dst, 30_000, d);
      const before = d.opCounts();
      renameSync(join(s.src, 'big'), join(s.src, 'bigger'));
      await waitForSame(s.src, s.dst, CONVERGE_MS, d);
      await sleep(200);
      const afterCounts = d.opCounts();
      assert.equal((afterCounts['rename'] ?? 0) - (before['rename'] ?? 0), 1);
      assert.equal(afterCounts['put'], before['put']);
      assert.equal(afterCounts['remove'] ?? 0, before['remove'] ?? 0);
    }));

  it('a file written 10 times within the debounce window, then renamed, costs one put and leaves no orphan', () =>
    withDaemon('tenwrites', async (s, d) => {
      writeFileSync(join(s.src, 'marker'), 'm');
      await waitForSame(s.src, s.dst, CONVERGE_MS, d);
      const before = d.opCounts()['put'] ?? 0;
      const f = join(s.src, 'draft.txt');
      for (let i = 0; i < 10; i++) appendFileSync(f, `line ${i}\n`);
      renameSync(f, join(s.src, 'final.txt'));
      await waitForSame(s.src, s.dst, CONVERGE_MS, d);
      await sleep(300);
      assert.equal((d.opCounts()['put'] ?? 0) - before, 1);
      assert.equal(existsSync(join(s.dst, 'draft.txt')), false);
    }));

  it('editor save-by-rename ends as the final file, without temp litter', () =>
    withDaemon('editor', async (s, d) => {
      writeFileSync(join(s.src, 'page.html'), '<p>v1</p>');
      await waitForSame(s.src, s.dst, CONVERGE_MS, d);
      for (let v = 2; v <= 5; v++) {
        // vim-like: write 4913 probe, backup~, new content to a temp, rename over.
        writeFileSync(join(s.src, '4913'), '');
        rmSync(join(s.src, '4913'));
        writeFileSync(join(s.src, '.page.html.swp'), 'swap');
        writeFileSync(join(s.src, 'page.html.tmp~'), `<p>v${v}</p>`);
        renameSync(join(s.src, 'page.html.tmp~'), join(s.src, 'page.html'));
        rmSync(join(s.src, '.page.html.swp'));
        await sleep(30);
      }
      await waitForSame(s.src, s.dst, CONVERGE_MS, d);
      assert.deepEqual(readdirSync(s.dst), ['page.html']);
    }));

  it('rm -rf of a tree', () =>
    withDaemon('rmrf', async (s, d) => {
      mkdirSync(join(s.src, 'doomed/a/b/c'), { recursive: true });
      for (let i = 0; i < 30; i++) writeFileSync(join(s.src, 'doomed/a', `f${i}`), 'x');
      writeFileSync(join(s.src, 'doomed/a/b/c/deep'), 'deep');
      writeFileSync(join(s.src, 'keep'), 'keep');
      await waitForSame(s.src, s.dst, CONVERGE_MS, d);
      rmSync(join(s.src, 'doomed'), { recursive: true });
      await waitForSame(s.src, s.dst, CONVERGE_MS, d);
      assert.deepEqual(readdirSync(s.dst), ['keep']);
    }));

  it('a file growing during its copy ends complete', () =>
    withDaemon('growing', async (s, d) => {
      const f = join(s.src, 'growing.log');
      const fh = await open(f, 'w');
      const chunk = Buffer.alloc(256 * 1024, 'a');
      for (let i = 0; i < 40; i++) {
        await fh.write(chunk);
        await sleep(15);
      }
      await fh.close();
      await waitForSame(s.src, s.dst, CONVERGE_MS, d);
    }));

  it('hostile names: spaces, quotes, #%?&+, accents, CJK, leading dashes, newlines', () =>
    withDaemon('names', async (s, d) => {
      const names = ['with space', "single'quote", 'double"quote', '#%?&+=;', 'accénts ñ ü', '漢字とかな', '-leading-dash', '--double', 'new\nline', 'tab\there', ' lead', 'trail '];
      for (const n of names) {
        mkdirSync(join(s.src, `${n}.d`));
        writeFileSync(join(s.src, `${n}.d`, n), n);
      }
      symlinkSync('with space.d', join(s.src, 'link to dir'));
      await waitForSame(s.src, s.dst, CONVERGE_MS, d);
    }));

  it('type changes: a directory replaced by a file and back', () =>
    withDaemon('types', async (s, d) => {
      mkdirSync(join(s.src, 'x'));
      writeFileSync(join(s.src, 'x', 'inner'), 'inner');
      await waitForSame(s.src, s.dst, CONVERGE_MS, d);
      rmSync(join(s.src, 'x'), { recursive: true });
      writeFileSync(join(s.src, 'x'), 'now a file');
      await waitForSame(s.src, s.dst, CONVERGE_MS, d);
      rmSync(join(s.src, 'x'));
      mkdirSync(join(s.src, 'x'));
      writeFileSync(join(s.src, 'x', 'again'), 'again');
      await waitForSame(s.src, s.dst, CONVERGE_MS, d);
    }));

  it('minutes of random churn converge within a second of the last change', () =>
    withDaemon('churn', async (s, d) => {
      let seed = 42;
      const rand = (n: number) => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed % n;
      };
      const paths = () => {
        const out: string[] = [];
        const walk = (rel: string) => {
          for (const e of readdirSync(join(s.src, rel), { withFileTypes: true })) {
            const p = rel ? `${rel}/${e.name}` : e.name;
            out.push(p);
            if (e.isDirectory()) walk(p);
          }
        };
        walk('');
        return out;
      };
      const durationMs = Number(process.env['SYNC_INOTIFY_CHURN_MS'] ?? 8_000);
      const end = Date.now() + durationMs;
      let n = 0;
      while (Date.now() < end) {
        const all = paths();
        const dirs = ['', ...all.filter((p) => !p.includes('.'))];
        const dir = dirs[rand(dirs.length)]!;
        const pick = all.length > 0 ? all[rand(all.length)]! : undefined;
        try {
          switch (rand(8)) {
            case 0:
              mkdirSync(join(s.src, dir, `d${n++}`), { recursive: true });
              break;
            case 1:
            case 2:
              writeFileSync(join(s.src, dir, `f${n++}.txt`), 'x'.repeat(rand(5000)));
              break;
            case 3:
              if (pick?.includes('.')) appendFileSync(join(s.src, pick), 'more');
              break;
            case 4:
              if (pick) rmSync(join(s.src, pick), { recursive: true, force: true });
              break;
            case 5:
              if (pick && !join(dir, 'x').startsWith(pick + '/')) renameSync(join(s.src, pick), join(s.src, dir, `r${n++}${pick.includes('.') ? '.txt' : ''}`));
              break;
            case 6:
              if (pick?.includes('.')) writeFileSync(join(s.src, pick), `rewritten ${n++}`);
              break;
            case 7:
              await sleep(rand(30));
              break;
          }
        } catch {
          // Churn races with itself (a renamed parent, …): that is the point; carry on.
        }
        if (rand(20) === 0) await sleep(5);
      }
      const took = await waitForSame(s.src, s.dst, CONVERGE_MS, d);
      assert.ok(took < 1_000, `converged ${took} ms after the last change (goal: within a second)`);
    }));
});

describe('e2e: restart and durability', { concurrency: 1 }, () => {
  it('kill -9 in the middle of a burst, then restart: nothing lost, no temp files, nothing sent twice', async () => {
    const s = setup('kill9');
    try {
      const d1 = await Daemon.start([s.src, s.dst, '--state', s.db]);
      for (let i = 0; i < 20; i++) {
        mkdirSync(join(s.src, `d${i}`));
        for (let j = 0; j < 100; j++) writeFileSync(join(s.src, `d${i}`, `f${j}`), Buffer.alloc(2048 + j, i));
      }
      await d1.waitFor(/put /, 20_000);
      await d1.stop('SIGKILL');
      // Changes while the daemon is down.
      rmSync(join(s.src, 'd0'), { recursive: true });
      writeFileSync(join(s.src, 'while-down'), 'offline change');
      const d2 = await Daemon.start([s.src, s.dst, '--state', s.db]);
      try {
        await waitForSame(s.src, s.dst, 60_000, d2);
        await sleep(300);
        const puts1 = d1.opCounts()['put'] ?? 0;
        const puts2 = d2.opCounts()['put'] ?? 0;
        // Files that landed before the kill are not sent again: at most the ones in flight at
        // the kill (the executor runs 8 at a time) are sent twice.
        assert.ok(puts1 + puts2 <= 2000 + 1 + 8, `sent ${puts1} before and ${puts2} after the kill`);
        const leftovers = (await treeDifference(s.src, s.dst)) ?? '';
        assert.equal(leftovers, '');
      } finally {
        await d2.stop();
      }
      // A restart with no change sends nothing.
      const d3 = await Daemon.start([s.src, s.dst, '--state', s.db]);
      await sleep(500);
      await d3.stop();
      assert.deepEqual(d3.opCounts(), {});
    } finally {
      s.cleanup();
    }
  });

  it('once and check: truthful about the target, exit codes 0 and 1', async () => {
    const s = setup('check');
    try {
      mkdirSync(join(s.src, 'a'));
      writeFileSync(join(s.src, 'a', 'f'), 'same size');
      writeFileSync(join(s.src, 'g'), 'g');
      const once = await runCli(['once', s.src, s.dst, '--state', s.db]);
      assert.equal(once.code, 0, once.stderr);
      const clean = await runCli(['check', s.src, s.dst, '--state', s.db]);
      assert.equal(clean.code, 0, clean.stdout);
      assert.match(clean.stdout, /in sync/);
      // Drift behind our back: same size, other content; an extra file; a missing one.
      writeFileSync(join(s.dst, 'a', 'f'), 'SAME SIZE');
      writeFileSync(join(s.dst, 'extra'), 'x');
      rmSync(join(s.dst, 'g'));
      const dirty = await runCli(['check', s.src, s.dst, '--state', s.db]);
      assert.equal(dirty.code, 1);
      assert.match(dirty.stdout, /content "a\/f"/);
      assert.match(dirty.stdout, /extra +"extra"/);
      assert.match(dirty.stdout, /missing "g"/);
      assert.match(dirty.stdout, /3 differences/);
    } finally {
      s.cleanup();
    }
  });
});

describe('e2e: bad input', { concurrency: 1 }, () => {
  it('a missing source is a clear error with exit status 2', async () => {
    const s = setup('nosrc');
    try {
      const r = await runCli(['once', join(s.root, 'does-not-exist'), s.dst, '--state', s.db]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /source .*does-not-exist does not exist: create it or fix "source"/);
    } finally {
      s.cleanup();
    }
  });

  it('an unknown config key names the key and the fix', async () => {
    const s = setup('badcfg');
    try {
      const cfg = join(s.root, 'c.yaml');
      writeFileSync(cfg, `syncs:\n  - source: ${s.src}\n    exclud: ["*.tmp"]\n    targets: [{url: ${s.dst}}]\n`);
      const r = await runCli(['once', '-c', cfg]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /syncs\[0\]\.exclud: unknown key; did you mean "exclude"\?/);
    } finally {
      s.cleanup();
    }
  });

  it('a target folder inside the source is refused', async () => {
    const s = setup('inside');
    try {
      const r = await runCli(['once', s.src, join(s.src, 'mirror'), '--state', s.db]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /overlap/);
    } finally {
      s.cleanup();
    }
  });

  // Permission cases need a user the kernel enforces permissions for: as root, run the daemon
  // as "nobody"; as an ordinary user, the user itself.
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const user = asRoot ? { uid: 65534, gid: 65534 } : {};
  let perm: Setup;
  before(() => {
    perm = setup('perm');
    chmodSync(perm.root, 0o777);
    chmodSync(perm.src, 0o777);
  });
  after(() => perm.cleanup());

  it('an unreadable file is a per-path problem; the rest is mirrored', async () => {
    const src = join(perm.root, 'src-unreadable');
    const dst = join(perm.root, 'dst-unreadable');
    mkdirSync(src);
    writeFileSync(join(src, 'ok'), 'fine');
    writeFileSync(join(src, 'secret'), 'no');
    mkdirSync(join(src, 'closed'));
    writeFileSync(join(src, 'closed', 'inside'), 'x');
    chmodSync(join(src, 'secret'), 0o000);
    chmodSync(join(src, 'closed'), 0o000);
    if (asRoot) chownSync(join(perm.root), 0, 0);
    chmodSync(perm.root, 0o777);
    const r = await runCli(['once', src, dst, '--state', join(perm.root, 'unreadable.db')], user);
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout + r.stderr, /"secret".*(cannot read|EACCES)/);
    assert.match(r.stdout + r.stderr, /"closed": cannot list directory: EACCES/);
    assert.equal(readdirSync(dst).includes('ok'), true);
    chmodSync(join(src, 'closed'), 0o755);
  });

  it('an unwritable destination is retried with backoff; nothing is lost once it is writable', async () => {
    const src = join(perm.root, 'src-unwritable');
    const dst = join(perm.root, 'dst-unwritable');
    mkdirSync(src);
    mkdirSync(dst, { mode: 0o755 });
    chmodSync(src, 0o777);
    writeFileSync(join(src, 'first'), '1');
    if (!asRoot) chmodSync(dst, 0o555);
    const d = await Daemon.start([src, dst, '--state', join(perm.root, 'unwritable.db')], user);
    try {
      await d.waitFor(/target unavailable: .*(EACCES|E_PERMISSION|permission)/i, 15_000);
      writeFileSync(join(src, 'second'), '2');
      await sleep(300);
      assert.deepEqual(readdirSync(dst), []);
      if (asRoot) chownSync(dst, 65534, 65534);
      else chmodSync(dst, 0o755);
      await waitForSame(src, dst, 30_000, d);
      assert.match(d.output, /reachable again/);
    } finally {
      await d.stop();
    }
  });
});
