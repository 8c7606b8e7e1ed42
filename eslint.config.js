import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/ and what each may import (docs/architecture.md, "Layers"): a layer
 * imports only the layers listed for it, never one above it. Checked on every source file
 * but tests (a test may use any fixture); test/lint/import-boundaries.test.ts shows a
 * forbidden import failing the lint.
 */
export const LAYERS = {
  core: [],
  log: ['core'],
  io: ['core'],
  state: ['core'],
  watch: ['core'],
  targets: ['core', 'io', 'log'],
  config: ['core', 'log', 'targets'],
  engine: ['core', 'io', 'log', 'state', 'watch', 'targets', 'config'],
  service: ['core', 'io', 'log', 'state', 'watch', 'targets', 'config', 'engine'],
  cli: ['core', 'io', 'log', 'state', 'watch', 'targets', 'config', 'engine', 'service'],
};

/** Node modules that do I/O (core is pure: decisions as functions of data). */
const NODE_IO = ['fs', 'fs/promises', 'net', 'tls', 'http', 'https', 'http2', 'dgram', 'dns', 'dns/promises', 'child_process', 'worker_threads', 'cluster', 'os', 'readline', 'stream', 'stream/promises', 'process', 'inspector', 'v8', 'vm', 'timers', 'timers/promises'];
/** Packages that do I/O (protocols, the database, the watcher, log files, the command line). */
const PACKAGE_IO = ['better-sqlite3', 'ssh2', 'basic-ftp', 'undici', 'nsfw', 'pino', 'rotating-file-stream', 'commander', 'file-type'];

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function layerRules(layer, allowed) {
  const forbidden = Object.keys(LAYERS).filter((l) => l !== layer && !allowed.includes(l));
  const patterns = [];
  if (forbidden.length > 0) {
    patterns.push({
      // A relative import that goes into another layer's folder: '../engine/x.ts', '../../cli/y.ts'.
      regex: `^\\.{1,2}/(?:\\.\\./)*(?:${forbidden.join('|')})/`,
      message: `src/${layer}/ may import only ${allowed.length > 0 ? allowed.map((l) => `src/${l}/`).join(', ') : 'itself'} (layers: docs/architecture.md); move the shared part down a layer instead.`,
    });
  }
  if (layer === 'core') {
    patterns.push({
      regex: `^(?:node:)?(?:${NODE_IO.map(escape).join('|')})$`,
      message: 'src/core/ is pure (no I/O): do the I/O in engine/ (or io/) and pass the data in.',
    });
    patterns.push({
      regex: `^(?:${PACKAGE_IO.map(escape).join('|')}|@aws-sdk/.*|@smithy/.*)$`,
      message: 'src/core/ is pure (no I/O): protocol, database and watcher packages belong to the layers above.',
    });
  }
  return {
    files: [`src/${layer}/**/*.ts`],
    ignores: ['**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns }] },
  };
}

export default tseslint.config(
  { ignores: ['node_modules/', 'coverage/', '.tmp/', 'dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  ...Object.entries(LAYERS).map(([layer, allowed]) => layerRules(layer, allowed)),
  {
    files: ['bin/**/*.js', 'bench/**/*.js', 'bench/**/*.mjs', 'scripts/**/*.mjs', 'native/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
