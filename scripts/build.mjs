// Builds dist/sync-inotify.cjs: the CLI and its pure-JS dependencies in one CommonJS file, and
// dist/sync-inotify.cjs.cache: V8's code cache for it, from a warm-up run of a small push
// (bin/bundle-loader.js loads both; CommonJS because Node 20 can only hand a code cache to a
// vm.Script, not to an ES module).
//
// Why one bundle: Node's ES module loader resolves, reads and links every file on its own, and
// the CLI with its dependencies is a few hundred files. As one file, `--version` takes 0.19 s
// instead of 0.27 s on the reference machine, and every push, check and status call starts
// that much sooner (bench/README.md, "start-up").
//
// Kept outside the bundle, loaded from node_modules at run time:
// - better-sqlite3 and nsfw: native addons, found by their own package code;
// - ssh2's optional native crypto binding (sshcrypto.node) and cpu-features: ssh2 requires the
//   binding by a path relative to its own file, which the bundle rewrites to a package path so
//   it still resolves from dist/ (without it ssh2 silently falls back to slower JS ciphers);
// - the AWS SDK (@aws-sdk/*, @smithy/*): several MB that only an S3 target uses; it is
//   imported when such a target connects (src/targets/s3/sdk-module.ts), so the bundle and
//   its code cache stay the size every start reads.
//
// Type checking is not done here: `npm test` runs `tsc --noEmit`.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SSH2_BINDING = "require('./crypto/build/Release/sshcrypto.node')";

/** Points ssh2's relative require of its native binding at the installed package instead. */
const ssh2NativeBinding = {
  name: 'ssh2-native-binding',
  setup(b) {
    b.onLoad({ filter: /[\\/]ssh2[\\/]lib[\\/]protocol[\\/]crypto\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes(SSH2_BINDING)) throw new Error(`ssh2 changed how it loads its binding (${args.path}): update scripts/build.mjs`);
      return { contents: source.replace(SSH2_BINDING, "require('ssh2/lib/protocol/crypto/build/Release/sshcrypto.node')"), loader: 'js' };
    });
  },
};

// Start clean, so nothing from an older layout of dist/ survives.
await rm('dist', { recursive: true, force: true });
await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/sync-inotify.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: 'linked',
  external: ['better-sqlite3', 'nsfw', 'cpu-features', '*.node', '@aws-sdk/*', '@smithy/*'],
  // The CommonJS wrapper provides require, __filename and __dirname; import.meta.url (used by
  // src/cli/package-root.ts) is rebuilt from __filename.
  define: { 'import.meta.url': '__bundleImportMetaUrl' },
  banner: { js: "const __bundleImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [ssh2NativeBinding],
  logLevel: 'warning',
});
// ASCII only, so that bin/bundle-loader.js can read the bundle as latin1: a one-byte string
// without UTF-8 decoding (0.3 ms instead of 3–7 ms for 2.6 MB at every start). esbuild already
// escapes non-ASCII characters in code (its default charset); what is left is in comments,
// where an escape is inert. An escape means the same character in strings and regexps too.
const bundled = await readFile('dist/sync-inotify.cjs', 'utf8');
await writeFile('dist/sync-inotify.cjs', bundled.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
await writeFile('dist/.build-stamp', new Date().toISOString());

// Warm-up: one small push through the bin, from a YAML configuration to a local folder, so the
// code cache holds what every run compiles (configuration, state store, scan, plan, executor).
// Code used only by other targets is compiled when first used, as without a cache.
const scratch = mkdtempSync(join(tmpdir(), 'sync-inotify-build-'));
try {
  const source = join(scratch, 'source');
  mkdirSync(join(source, 'site', 'assets'), { recursive: true });
  writeFileSync(join(source, 'site', 'index.html'), '<h1>warm-up</h1>\n');
  writeFileSync(join(source, 'site', 'assets', 'app.css'), 'h1 { color: teal }\n');
  const config = join(scratch, 'config.yaml');
  writeFileSync(config, `syncs:\n  - source: ${JSON.stringify(source)}\n    exclude: ["*.tmp"]\n    targets:\n      - url: ${JSON.stringify(join(scratch, 'mirror'))}\n`);
  const run = spawnSync(process.execPath, ['bin/sync-inotify.js', 'once', '-c', config, '--state', join(scratch, 'state.db')], {
    env: { ...process.env, SYNC_INOTIFY_WRITE_CODE_CACHE: '1', SYNC_INOTIFY_FROM_SOURCE: '' },
    encoding: 'utf8',
  });
  if (run.status !== 0 || !existsSync('dist/sync-inotify.cjs.cache')) {
    throw new Error(`the warm-up run of the new bundle failed (exit ${run.status}):\n${run.stdout}${run.stderr}`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
