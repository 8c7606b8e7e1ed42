/**
 * ssh2's optional native crypto binding (AES-GCM and ChaCha20-Poly1305 through OpenSSL) is
 * built at install time only because package.json allows ssh2's install script. Without it
 * ssh2 falls back to JavaScript ciphers without a word, and a 10,000-file SFTP push took
 * 2.6 s instead of 2.1 s. These tests catch both ways of losing it: the install script no
 * longer allowed, and the bundle no longer finding the binding from dist/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../cli/package-root.ts';

const BINDING = 'ssh2/lib/protocol/crypto/build/Release/sshcrypto.node';

test('ssh2 was installed with its native crypto binding', () => {
  const require = createRequire(import.meta.url);
  const crypto = require('ssh2/lib/protocol/crypto.js') as { bindingAvailable: boolean };
  assert.equal(crypto.bindingAvailable, true, 'ssh2 has no native binding: is "ssh2" listed under allowScripts, and can node-gyp build it (python3, make, g++)?');
});

test('the bundle in dist/ loads the binding by a path that resolves from dist/', () => {
  const bundle = join(PACKAGE_ROOT, 'dist/sync-inotify.cjs');
  const text = readFileSync(bundle, 'utf8');
  assert.ok(text.includes(`require("${BINDING}")`) || text.includes(`require('${BINDING}')`), 'the bundle does not require the binding by its package path (see scripts/build.mjs)');
  const fromDist = createRequire(bundle);
  assert.doesNotThrow(() => fromDist(BINDING));
});
