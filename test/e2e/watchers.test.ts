/**
 * The watchers: the churn cases against a local folder with `watcher: nsfw` and with
 * `watcher: inotify` (our binding, opt-in; the other e2e files run the default, fs.watch),
 * plus a check that the binding is what `watcher: inotify` gets: its log line says so, and it
 * skips excluded directories, which nsfw cannot, so the kernel's count of the daemon's inotify
 * watches tells them apart.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Daemon, sleep, tempDir } from './harness.ts';
import { describeMirrorCases } from './mirror-cases.ts';

function setup(name: string, extra = '', watcher = ''): { src: string; dst: string; args: string[]; cleanup(): void } {
  const t = tempDir(`watcher-${name}`);
  const src = join(t.path, 'src');
  const dst = join(t.path, 'dst');
  mkdirSync(src);
  const cfg = join(t.path, 'config.yaml');
  writeFileSync(cfg, `${watcher ? `watcher: ${watcher}\n` : ''}syncs:\n  - source: ${JSON.stringify(src)}\n${extra}    targets:\n      - url: ${JSON.stringify(dst)}\n`);
  return { src, dst, args: ['-c', cfg, '--state', join(t.path, 'state.db')], cleanup: t.cleanup };
}

/** Inotify watches held by a process, from /proc. */
function inotifyWatches(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let link = '';
    try {
      link = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (link === 'anon_inode:inotify') n += readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8').split('\n').filter((l) => l.startsWith('inotify wd:')).length;
  }
  return n;
}

describeMirrorCases({
  label: 'local folder, nsfw watcher',
  symlinks: true,
  byteNames: true,
  async open(name) {
    const s = setup(name, '', 'nsfw');
    const daemon = await Daemon.start(s.args);
    return { env: s, daemon, close: async () => s.cleanup() };
  },
});

describeMirrorCases({
  label: 'local folder, inotify binding watcher',
  symlinks: true,
  byteNames: true,
  async open(name) {
    const s = setup(name, '', 'inotify');
    const daemon = await Daemon.start(s.args);
    assert.match(daemon.output, /watcher for .*: the inotify binding\n/);
    return { env: s, daemon, close: async () => s.cleanup() };
  },
});

describe('e2e: watcher: inotify is the inotify binding', () => {
  it('excluded directories hold no inotify watch', async () => {
    const s = setup('which', '    exclude: ["skipped/"]\n', 'inotify');
    try {
      for (let i = 0; i < 5; i++) mkdirSync(join(s.src, 'skipped', `d${i}`), { recursive: true });
      mkdirSync(join(s.src, 'kept', 'inner'), { recursive: true });
      const d = await Daemon.start(s.args);
      try {
        writeFileSync(join(s.src, 'kept', 'inner', 'f'), 'x');
        const deadline = Date.now() + 15_000;
        while (!existsSync(join(s.dst, 'kept', 'inner', 'f')) && Date.now() < deadline) await sleep(20);
        assert.equal(readFileSync(join(s.dst, 'kept', 'inner', 'f'), 'utf8'), 'x');
        assert.equal(existsSync(join(s.dst, 'skipped')), false);
        // root, kept, kept/inner; nsfw would also watch skipped and its 5 subdirectories.
        assert.equal(inotifyWatches(d.child.pid!), 3);
        assert.match(d.output, /watcher for .*: the inotify binding\n/, 'npm ci builds the binding: watcher: inotify uses it');
      } finally {
        await d.stop();
      }
    } finally {
      s.cleanup();
    }
  });
});
