// Builds dist/sync-inotify.mjs: the CLI and its pure-JS dependencies in one ES module.
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
//   it still resolves from dist/ (without it ssh2 silently falls back to slower JS ciphers).
//
// Type checking is not done here: `npm test` runs `tsc --noEmit`.
import { build } from 'esbuild';
import { readFile, rm, writeFile } from 'node:fs/promises';

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
  outfile: 'dist/sync-inotify.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  external: ['better-sqlite3', 'nsfw', 'cpu-features', '*.node'],
  // Bundled CommonJS dependencies call require() for Node's built-ins and the externals above,
  // and some read __dirname at load (ssh2's agent, for a Windows-only helper).
  banner: {
    js: [
      "import { createRequire as __bundleCreateRequire } from 'node:module';",
      "import { dirname as __bundleDirname } from 'node:path';",
      "import { fileURLToPath as __bundleFileURLToPath } from 'node:url';",
      'const require = __bundleCreateRequire(import.meta.url);',
      'const __filename = __bundleFileURLToPath(import.meta.url);',
      'const __dirname = __bundleDirname(__filename);',
    ].join('\n'),
  },
  plugins: [ssh2NativeBinding],
  logLevel: 'warning',
});
await writeFile('dist/.build-stamp', new Date().toISOString());
