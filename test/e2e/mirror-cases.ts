/**
 * The churn cases of issue 2, written once and run against every target: each case gets a
 * fresh source folder and a daemon mirroring it, and ends by comparing the source with the
 * folder that holds the target's files, byte for byte.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type Daemon, runCli, sleep, waitForSame } from './harness.ts';

export const CONVERGE_MS = 15_000;

export interface MirrorEnv {
  /** The source folder (empty). */
  readonly src: string;
  /** The folder on this machine that holds the target root's files. */
  readonly dst: string;
}

export interface MirrorFixture {
  /** Label in test names. */
  readonly label: string;
  /** Fresh source + target, and a started daemon between them. Undefined: server missing. */
  open(name: string): Promise<{ env: MirrorEnv; daemon: Daemon; close(): Promise<void> } | undefined>;
  /** The target copies symlinks as links. */
  readonly symlinks: boolean;
  /** Names the target refuses by design (per-path E_NAME), left out of the hostile-names case. */
  readonly refusedNames?: RegExp;
  /**
   * The target carries names that are not valid UTF-8 byte for byte; otherwise it refuses them
   * per path (E_NAME), logged, and keeps everything else.
   */
  readonly byteNames: boolean;
  /**
   * The target renames (files and directories) on the server; false (an rsync daemon, which
   * runs no command): a rename is sent as a copy and a delete, and only the result is checked.
   * Absent: true.
   */
  readonly renames?: boolean;
}

/** A path under `dir` made of string parts and raw bytes (a name that is not valid UTF-8). */
export function bytePath(dir: string, ...parts: (string | number)[]): Buffer {
  return Buffer.concat([Buffer.from(`${dir}/`), ...parts.map((p) => (typeof p === 'number' ? Buffer.of(p) : Buffer.from(p)))]);
}

/** True for a name holding a byte that is not valid UTF-8 (as the harness decodes names). */
const escapedByte = (name: string) => /[\udc80-\udcff]/u.test(name);

export function describeMirrorCases(fx: MirrorFixture): void {
  const withDaemon = (name: string, body: (s: MirrorEnv, d: Daemon) => Promise<void>) => async (ctx: { skip(msg: string): void }) => {
    const opened = await fx.open(name);
    if (!opened) return ctx.skip('server not available');
    try {
      await body(opened.env, opened.daemon);
    } finally {
      await opened.daemon.stop();
      await opened.close();
    }
  };
  describe(`e2e churn: ${fx.label}`, { concurrency: 1 }, () => {
    it('mkdir -p 30 levels deep with a file at each level', withDaemon('mkdirp', async (s, d) => {
        const levels = Array.from({ length: 30 }, (_, i) => `level${i}`);
        mkdirSync(join(s.src, ...levels), { recursive: true });
        for (let i = 1; i <= levels.length; i++) writeFileSync(join(s.src, ...levels.slice(0, i), `file${i}.txt`), `depth ${i}\n`);
        await waitForSame(s.src, s.dst, CONVERGE_MS, d);
      }));

    it('a burst of 10,000 files in 100 directories', withDaemon('burst', async (s, d) => {
        for (let i = 0; i < 100; i++) {
          const dir = join(s.src, `d${i}`);
          mkdirSync(dir);
          for (let j = 0; j < 100; j++) writeFileSync(join(dir, `f${j}`), `file ${i}/${j} `.repeat((j % 7) + 1));
        }
        await waitForSame(s.src, s.dst, 60_000, d);
        const counts = d.opCounts();
        assert.equal(counts['put'], 10_000, `each file sent exactly once; sent more than once:\n${d.repeatedPuts().slice(0, 20).join('\n')}`);
        assert.equal(counts['mkdir'], 100);
      }));

    it('files and directories created and removed within milliseconds cost nothing and break nothing', withDaemon('flicker', async (s, d) => {
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

    it('renames of files and of non-empty directories are renames on the target', withDaemon('renames', async (s, d) => {
        mkdirSync(join(s.src, 'tree/sub'), { recursive: true });
        for (let i = 0; i < 20; i++) writeFileSync(join(s.src, 'tree/sub', `f${i}`), `content ${i}`);
        writeFileSync(join(s.src, 'single'), 'single file');
        await waitForSame(s.src, s.dst, CONVERGE_MS, d);
        const putsBefore = d.opCounts()['put'] ?? 0;
        renameSync(join(s.src, 'tree'), join(s.src, 'moved-tree'));
        renameSync(join(s.src, 'single'), join(s.src, 'moved-tree', 'single-renamed'));
        await waitForSame(s.src, s.dst, CONVERGE_MS, d);
        if (fx.renames === false) return;
        assert.equal(d.opCounts()['put'] ?? 0, putsBefore, `no file was uploaded again:\n${d.output.slice(-3000)}`);
        assert.ok((d.opCounts()['rename'] ?? 0) >= 2);
      }));

    it('renaming a directory of 1,000 files costs one rename', withDaemon('rename1000', async (s, d) => {
        mkdirSync(join(s.src, 'big'));
        for (let i = 0; i < 1000; i++) writeFileSync(join(s.src, 'big', `f${i}`), `f${i}`);
        await waitForSame(s.src, s.dst, 30_000, d);
        const before = d.opCounts();
        renameSync(join(s.src, 'big'), join(s.src, 'bigger'));
        await waitForSame(s.src, s.dst, CONVERGE_MS, d);
        await sleep(200);
        const afterCounts = d.opCounts();
        if (fx.renames === false) return;
        assert.equal((afterCounts['rename'] ?? 0) - (before['rename'] ?? 0), 1);
        assert.equal(afterCounts['put'], before['put']);
        assert.equal(afterCounts['remove'] ?? 0, before['remove'] ?? 0);
      }));

    it('a file written 10 times within the debounce window, then renamed, costs one put and leaves no orphan', withDaemon('tenwrites', async (s, d) => {
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

    it('editor save-by-rename ends as the final file, without temp litter', withDaemon('editor', async (s, d) => {
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

    it('rm -rf of a tree', withDaemon('rmrf', async (s, d) => {
        mkdirSync(join(s.src, 'doomed/a/b/c'), { recursive: true });
        for (let i = 0; i < 30; i++) writeFileSync(join(s.src, 'doomed/a', `f${i}`), 'x');
        writeFileSync(join(s.src, 'doomed/a/b/c/deep'), 'deep');
        writeFileSync(join(s.src, 'keep'), 'keep');
        await waitForSame(s.src, s.dst, CONVERGE_MS, d);
        rmSync(join(s.src, 'doomed'), { recursive: true });
        await waitForSame(s.src, s.dst, CONVERGE_MS, d);
        assert.deepEqual(readdirSync(s.dst), ['keep']);
      }));

    it('a file growing during its copy ends complete', withDaemon('growing', async (s, d) => {
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

    it('hostile names: spaces, quotes, #%?&+, accents, CJK, leading dashes, newlines', withDaemon('names', async (s, d) => {
        const names = ['with space', "single'quote", 'double"quote', '#%?&+=;', 'accénts ñ ü', '漢字とかな', '-leading-dash', '--double', 'new\nline', 'tab\there', ' lead', 'trail '].filter(
          (name) => !fx.refusedNames?.test(name),
        );
        for (const n of names) {
          mkdirSync(join(s.src, `${n}.d`));
          writeFileSync(join(s.src, `${n}.d`, n), n);
        }
        if (fx.symlinks) symlinkSync('with space.d', join(s.src, 'link to dir'));
        await waitForSame(s.src, s.dst, CONVERGE_MS, d);
      }));

    it('names that are not valid UTF-8: a file bad\\xffname and a directory dir\\xff with files', withDaemon('bytenames', async (s, d) => {
        writeFileSync(join(s.src, 'plain.txt'), 'plain');
        writeFileSync(bytePath(s.src, 'bad', 0xff, 'name'), 'bad name');
        mkdirSync(bytePath(s.src, 'dir', 0xff));
        writeFileSync(bytePath(s.src, 'dir', 0xff, '/inner.txt'), 'inner');
        writeFileSync(bytePath(s.src, 'dir', 0xff, '/', 0xe9, 't', 0xe9), 'latin-1 name');
        if (fx.byteNames) {
          await waitForSame(s.src, s.dst, CONVERGE_MS, d);
          // The line is written once the result is committed, which may follow the file on the target by a moment.
          await d.waitFor(/put "bad\\xffname"/, 10_000);
          // Changes inside such a directory: a removal and a new file.
          rmSync(bytePath(s.src, 'dir', 0xff, '/inner.txt'));
          writeFileSync(bytePath(s.src, 'dir', 0xff, '/new', 0xfe), 'new');
          rmSync(bytePath(s.src, 'bad', 0xff, 'name'));
          await waitForSame(s.src, s.dst, CONVERGE_MS, d);
          return;
        }
        // Refused per path, said in the log, and everything else mirrored.
        await waitForSame(s.src, s.dst, CONVERGE_MS, d, escapedByte);
        await d.waitFor(/put "bad\\xffname" failed: .*not valid UTF-8/, CONVERGE_MS);
        await d.waitFor(/mkdir "dir\\xff".* failed: .*not valid UTF-8/, CONVERGE_MS);
        // Refused, not in a loop: no new attempt without a new change.
        const refusals = () => [...d.output.matchAll(/(put "bad\\xffname"|mkdir "dir\\xff") failed/g)].length;
        await sleep(500);
        const settled = refusals();
        await sleep(1_500);
        assert.equal(refusals(), settled, d.output.slice(-3000));
      }));

    it('a directory renamed to docs\\xe9 while watched keeps its data on the target', withDaemon('renamebytes', async (s, d) => {
        mkdirSync(join(s.src, 'docs', 'sub'), { recursive: true });
        for (let i = 0; i < 5; i++) writeFileSync(join(s.src, 'docs', `f${i}.txt`), `file ${i}`);
        writeFileSync(join(s.src, 'docs', 'sub', 'deep.txt'), 'deep');
        await waitForSame(s.src, s.dst, CONVERGE_MS, d);
        const before = d.opCounts();
        renameSync(join(s.src, 'docs'), bytePath(s.src, 'docs', 0xe9));
        if (fx.byteNames) {
          await waitForSame(s.src, s.dst, CONVERGE_MS, d);
          if (fx.renames === false) return;
          const afterCounts = d.opCounts();
          assert.equal((afterCounts['rename'] ?? 0) - (before['rename'] ?? 0), 1, 'one rename');
          assert.equal(afterCounts['put'], before['put'], 'nothing sent again');
          assert.match(d.output, /rename "docs" -> "docs\\xe9"/);
          return;
        }
        // The target cannot take the new name: the rename is refused, and the data stays where
        // it was, whole (never removed because the new name could not be sent).
        await d.waitFor(/rename "docs" -> "docs\\xe9" failed: .*not valid UTF-8/, CONVERGE_MS);
        await sleep(500);
        assert.deepEqual(readdirSync(join(s.dst, 'docs')).sort(), ['f0.txt', 'f1.txt', 'f2.txt', 'f3.txt', 'f4.txt', 'sub']);
        assert.equal(readFileSync(join(s.dst, 'docs', 'sub', 'deep.txt'), 'utf8'), 'deep');
        assert.equal(d.opCounts()['remove'] ?? 0, before['remove'] ?? 0, 'nothing removed');
        assert.equal(d.opCounts()['rmdir'] ?? 0, before['rmdir'] ?? 0, 'nothing removed');
      }));

    it('type changes: a directory replaced by a file and back', withDaemon('types', async (s, d) => {
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

    it('minutes of random churn converge within a second of the last change', withDaemon('churn', async (s, d) => {
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
        // Converged by the changes' own events, not by a backstop (the periodic rescan is 10 min
        // away): a few seconds at most even on a loaded 2-core machine. How fast it is, is the
        // benchmarks' job (bench/ latency and burst cases), not a timed test's.
        assert.ok(took < 5_000, `converged ${took} ms after the last change (goal: within seconds, by events)`);
      }));
  });
}

/** A source, the folder holding the target's files, and CLI arguments naming both (`-c …`). */
export interface PreparedTarget {
  readonly src: string;
  readonly dst: string;
  readonly args: string[];
}

/**
 * `once` then `check` through the CLI: clean after a mirror, and truthful about drift made on
 * the target behind our back (a file changed, one added, one removed); and about names that
 * are not valid UTF-8 (mirrored where the target carries bytes, else refused and said).
 */
export function describeOnceAndCheck(label: string, prepare: () => Promise<PreparedTarget | undefined>, options: { byteNames: boolean }): void {
  describe(`e2e once and check: ${label}`, { concurrency: 1 }, () => {
    it('names that are not valid UTF-8: once and check see them, and exit 1 while one is not mirrored', async (ctx) => {
      const p = await prepare();
      if (!p) return ctx.skip('server not available');
      writeFileSync(join(p.src, 'ok.txt'), 'ok');
      writeFileSync(bytePath(p.src, 'bad', 0xff, 'name'), 'bad');
      mkdirSync(bytePath(p.src, 'dir', 0xff));
      writeFileSync(bytePath(p.src, 'dir', 0xff, '/inner.txt'), 'inner');
      const once = await runCli(['once', ...p.args]);
      const onceOut = once.stdout + once.stderr;
      const check = await runCli(['check', ...p.args]);
      if (options.byteNames) {
        assert.equal(once.code, 0, onceOut);
        assert.equal(check.code, 0, check.stdout + check.stderr);
        assert.match(check.stdout, /in sync/);
        // check reads names as bytes on both sides: drift under such names is seen.
        rmSync(bytePath(p.dst, 'bad', 0xff, 'name'));
        writeFileSync(bytePath(p.dst, 'dir', 0xff, '/extra', 0xfe), 'not ours');
        const drift = await runCli(['check', ...p.args]);
        assert.equal(drift.code, 1, drift.stdout + drift.stderr);
        assert.match(drift.stdout, /missing "bad\\xffname": file missing on the target\n/);
        assert.match(drift.stdout, /extra +"dir\\xff\/extra\\xfe"/);
        return;
      }
      assert.equal(once.code, 1, onceOut);
      assert.match(onceOut, /not in sync: 2 paths not mirrored/);
      assert.match(onceOut, /not mirrored: put "bad\\xffname": .*not valid UTF-8/);
      assert.match(onceOut, /not mirrored: mkdir "dir\\xff".*: .*not valid UTF-8/);
      assert.equal(readFileSync(join(p.dst, 'ok.txt'), 'utf8'), 'ok', 'the rest is mirrored');
      assert.equal(check.code, 1, check.stdout + check.stderr);
      assert.match(check.stdout, /missing "bad\\xffname": file missing on the target: its name is not valid UTF-8/);
      assert.match(check.stdout, /missing "dir\\xff": dir missing on the target: its name is not valid UTF-8/);
      assert.match(check.stdout, /missing "dir\\xff\/inner.txt"/);
      assert.doesNotMatch(check.stdout, /ok\.txt/);
    });

    it('once mirrors and exits 0; check is clean, then lists drift made behind our back and exits 1', async (ctx) => {
      const p = await prepare();
      if (!p) return ctx.skip('server not available');
      mkdirSync(join(p.src, 'dir'));
      writeFileSync(join(p.src, 'dir', 'a.txt'), 'alpha');
      writeFileSync(join(p.src, 'b.txt'), 'bravo');
      const once = await runCli(['once', ...p.args]);
      assert.equal(once.code, 0, once.stdout + once.stderr);
      const clean = await runCli(['check', ...p.args]);
      assert.equal(clean.code, 0, clean.stdout + clean.stderr);
      assert.match(clean.stdout, /in sync/);
      writeFileSync(join(p.dst, 'dir', 'a.txt'), 'alpha, changed behind our back');
      writeFileSync(join(p.dst, 'extra.txt'), 'not ours');
      rmSync(join(p.dst, 'b.txt'));
      const drift = await runCli(['check', ...p.args]);
      assert.equal(drift.code, 1, drift.stdout + drift.stderr);
      assert.match(drift.stdout, /size +"dir\/a.txt"/);
      assert.match(drift.stdout, /extra +"extra.txt"/);
      assert.match(drift.stdout, /missing "b.txt"/);
    });
  });
}
