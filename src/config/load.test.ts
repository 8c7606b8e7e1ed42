import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfigFile, validateConfig } from './load.ts';

const dir = mkdtempSync(join(tmpdir(), 'si-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

describe('config validation', () => {
  it('accepts the documented example and resolves relative paths against the file', () => {
    const f = write('ok.yaml', `name: site\nsyncs:\n  - source: ./www\n    exclude: ["*.tmp", ".git/"]\n    fileTypes: [image, text]\n    maxDelete: "10%"\n    targets:\n      - url: ./mirror\n      - url: ftp://deploy@ftp.example.com/public_html\n        connections: 4\n`);
    const c = loadConfigFile(f);
    assert.equal(c.name, 'site');
    assert.equal(c.syncs[0]!.source, join(dir, 'www'));
    assert.equal(c.syncs[0]!.targets[0]!.url, join(dir, 'mirror'));
    assert.equal(c.syncs[0]!.targets[1]!.url, 'ftp://deploy@ftp.example.com/public_html');
  });
  const bad: [string, string, RegExp][] = [
    ['unknown key with a suggestion', 'syncs:\n  - source: /a\n    targets:\n      - url: /b\n        pasword: x\n', /syncs\[0\]\.targets\[0\]\.pasword: unknown key; did you mean "password"\?/],
    ['unknown top-level key', 'sync:\n  - source: /a\n', /sync: unknown key; did you mean "syncs"\?/],
    ['missing source', 'syncs:\n  - targets: [{url: /b}]\n', /syncs\[0\]\.source: missing/],
    ['wrong enum value', 'syncs:\n  - source: /a\n    targets: [{url: ftp://h/, tls: yes}]\n', /syncs\[0\]\.targets\[0\]\.tls: "yes" is not allowed; use one of "none", "explicit", "implicit"/],
    ['bad maxDelete', 'syncs:\n  - source: /a\n    maxDelete: lots\n    targets: [{url: /b}]\n', /maxDelete: must be a count like 100 or a percentage/],
    ['no targets', 'syncs:\n  - source: /a\n    targets: []\n', /targets: list at least one target/],
    ['negative verifyIntervalSec', 'verifyIntervalSec: -1\nsyncs:\n  - source: /a\n    targets: [{url: /b}]\n', /verifyIntervalSec: /],
    ['misspelt verifyIntervalSec', 'verifyInterval: 60\nsyncs:\n  - source: /a\n    targets: [{url: /b}]\n', /verifyInterval: unknown key; did you mean "verifyIntervalSec"\?/],
    ['duplicate key', 'syncs:\n  - source: /a\n    source: /b\n    targets: [{url: /b}]\n', /Map keys must be unique/],
  ];
  for (const [name, text, re] of bad) {
    it(`rejects: ${name}`, () => assert.throws(() => loadConfigFile(write(`${name.replace(/\W/g, '_')}.yaml`, text)), re));
  }
  it('accepts verifyIntervalSec', () => {
    const c = loadConfigFile(write('verify.yaml', 'verifyIntervalSec: 3600\nsyncs:\n  - source: /a\n    targets: [{url: /b}]\n'));
    assert.equal(c.verifyIntervalSec, 3600);
  });
  it('rejects a non-mapping', () => assert.throws(() => validateConfig([1], 'x'), /expected a mapping/));
});
