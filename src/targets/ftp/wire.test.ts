import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { doubleIac, fromWire, toWire } from './wire.ts';

const esc = (byte: number) => String.fromCharCode(0xdc00 + byte);

describe('FTP wire form of names (latin1: one character per byte)', () => {
  const cases: [string, string, number[]][] = [
    ['ASCII is itself', '/a b/c.txt', [...Buffer.from('/a b/c.txt')]],
    ['UTF-8 names are their bytes', '/café/漢', [...Buffer.from('/café/漢')]],
    ['an escaped byte is that byte', `/dir${esc(0xff)}/bad${esc(0xfe)}name`, [...Buffer.from('/dir'), 0xff, ...Buffer.from('/bad'), 0xfe, ...Buffer.from('name')]],
    ['an emoji stays whole', '/x😀', [...Buffer.from('/x😀')]],
  ];
  for (const [name, internal, bytes] of cases) {
    it(name, () => {
      const wire = toWire(internal);
      assert.deepEqual([...Buffer.from(wire, 'latin1')], bytes);
      assert.equal(fromWire(wire), internal);
    });
  }

  it('text with a character above U+00FF did not come from a latin1 session and is kept', () => {
    assert.equal(fromWire('550 漢字'), '550 漢字');
  });

  it('doubleIac doubles every 0xFF and nothing else', () => {
    assert.equal(doubleIac('/a\u00ffb\u00ff'), '/a\u00ff\u00ffb\u00ff\u00ff');
    assert.equal(doubleIac('/plain'), '/plain');
  });
});
