#!/usr/bin/env node
// Entry point. Runs the compiled CLI in dist/ (built by `npm run build`, which `npm test` and
// `npm pack` (through `prepack`) run) with its code cache (bundle-loader.js),
// because compiling the TypeScript on every start costs about half a second. In a checkout
// where any file under src/ is newer than the build, it falls back to loading the source
// through tsx (a devDependency), so an edited tree never runs stale code. An installed package
// ships dist/ and no src/ (package.json `files`), so it always runs dist/ and never needs tsx.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const BUILD_STAMP = `${root}dist/.build-stamp`;

/** Newest mtime (ms) of any file under `dir`, or 0 when it does not exist. */
function newestUnder(dir) {
  let newest = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = `${dir}/${e.name}`;
    newest = Math.max(newest, e.isDirectory() ? newestUnder(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function buildIsFresh() {
  let built;
  try {
    built = statSync(BUILD_STAMP).mtimeMs;
  } catch {
    return false;
  }
  return newestUnder(`${root}src`) <= built;
}

let main;
let bundle;
if (process.env.SYNC_INOTIFY_FROM_SOURCE !== '1' && buildIsFresh()) {
  const { loadBundle } = await import('./bundle-loader.js');
  bundle = loadBundle(`${root}dist/sync-inotify.cjs`);
  main = bundle.main;
} else {
  if (!existsSync(`${root}src/cli/main.ts`)) {
    // An installed package without its dist/: nothing to fall back to.
    process.stderr.write(`sync-inotify: ${root}dist/ is missing or incomplete; reinstall the package (npm install -g sync-inotify)\n`);
    process.exit(70);
  }
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
const code = await main(process.argv.slice(2));
// The build's warm-up run saves the code it compiled (scripts/build.mjs).
if (process.env.SYNC_INOTIFY_WRITE_CODE_CACHE === '1') bundle?.writeCache();
// Exit explicitly: nsfw keeps a native handle referenced after stop(), so the event loop
// would never drain on its own. Everything has been flushed and closed by now.
process.exit(code);
