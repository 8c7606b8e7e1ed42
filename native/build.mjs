// Install step (package.json "install"): builds the inotify binding (native/inotify.cc) with
// node-gyp, against the headers npm is set to use (npm_config_nodedir), offline.
//
// It never fails the install: without the binding, sync-inotify watches through Node's
// fs.watch instead (src/watch/choose-watcher.ts, README "Watching") and says so in one log
// line at start. So a machine without a C++ compiler, or an install that skipped this
// script, still gets a working tool.
//
// SYNC_INOTIFY_NO_NATIVE=1 skips the build (and removes an older one).
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (line) => process.stderr.write(`sync-inotify: ${line}\n`);

if (process.platform !== 'linux') {
  say(`no inotify on ${process.platform}: the inotify binding is not built (fs.watch is used)`);
  process.exit(0);
}
if (process.env.SYNC_INOTIFY_NO_NATIVE === '1') {
  rmSync(join(root, 'build'), { recursive: true, force: true });
  say('SYNC_INOTIFY_NO_NATIVE=1: the inotify binding is not built (fs.watch is used)');
  process.exit(0);
}

/** node-gyp: the one npm runs scripts with, else the one bundled with this node's npm. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((c) => c && existsSync(c));
}

const gyp = nodeGyp();
if (!gyp) {
  say('node-gyp not found: the inotify binding is not built (fs.watch is used)');
  process.exit(0);
}
/**
 * Node's headers, offline: the folder npm is set to (npm_config_nodedir), else the one the
 * running node ships its headers in (<prefix>/include/node beside <prefix>/bin/node: Debian's
 * and the official builds both do). Without one, node-gyp would download them, which fails
 * offline; it is then left to try, and fail into the fallback above.
 */
function nodeDir() {
  const fromNpm = process.env.npm_config_nodedir;
  if (fromNpm && existsSync(join(fromNpm, 'include', 'node', 'node_api.h'))) return fromNpm;
  const prefix = join(dirname(process.execPath), '..');
  if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) return prefix;
  return undefined;
}

const dir = nodeDir();
const args = [gyp, 'rebuild', ...(dir ? [`--nodedir=${dir}`] : [])];
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  say(`building the inotify binding failed (node-gyp exit ${r.status ?? r.signal}): sync-inotify will watch through fs.watch instead`);
  process.exit(0);
}
say('inotify binding built (build/Release/sync_inotify.node)');
