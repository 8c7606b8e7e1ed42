import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeName, decodeNames, encodeName, hasEscapedBytes, quotePath, toFsPath } from './names.ts';

const esc = (b: number) => String.fromCharCode(0xdc00 + b);

describe('decodeName / encodeName (surrogateescape)', () => {
  const cases: [label: string, bytes: number[], decoded: string][] = [
    ['ASCII', [0x61, 0x62], 'ab'],
    ['valid 2-byte (é)', [0x63, 0xc3, 0xa9], 'cé'],
    ['valid 3-byte (€)', [0xe2, 0x82, 0xac], '€'],
    ['valid 4-byte emoji', [0xf0, 0x9f, 0x98, 0x80], '😀'],
    // U+1F480's low surrogate is U+DC80: paired, so it is a character, not an escaped byte.
    ['emoji whose low surrogate is in DC80-DCFF', [0xf0, 0x9f, 0x92, 0x80], '\ud83d\udc80'],
    ['real U+FFFD in a name', [0x61, 0xef, 0xbf, 0xbd, 0x62], 'a\ufffdb'],
    ['lone 0xff', [0x62, 0x61, 0x64, 0xff, 0x6e], `bad${esc(0xff)}n`],
    ['lone continuation 0x80', [0x80], esc(0x80)],
    ['Latin-1 é (0xe9)', [0x64, 0x6f, 0x63, 0x73, 0xe9], `docs${esc(0xe9)}`],
    ['truncated 3-byte at the end', [0x61, 0xe2, 0x82], `a${esc(0xe2)}${esc(0x82)}`],
    ['truncated 4-byte before ASCII', [0xf0, 0x9f, 0x98, 0x61], `${esc(0xf0)}${esc(0x9f)}${esc(0x98)}a`],
    ['stray lead byte before a valid character', [0xe2, 0xe2, 0x82, 0xac], `${esc(0xe2)}€`],
    ['overlong "/" (c0 af)', [0xc0, 0xaf], `${esc(0xc0)}${esc(0xaf)}`],
    ['overlong 3-byte (e0 80 af)', [0xe0, 0x80, 0xaf], `${esc(0xe0)}${esc(0x80)}${esc(0xaf)}`],
    ['encoded surrogate U+DCFF (ed b3 bf)', [0xed, 0xb3, 0xbf], `${esc(0xed)}${esc(0xb3)}${esc(0xbf)}`],
    ['above U+10FFFF (f4 90 80 80)', [0xf4, 0x90, 0x80, 0x80], `${esc(0xf4)}${esc(0x90)}${esc(0x80)}${esc(0x80)}`],
    ['0xf5 lead', [0xf5, 0x80], `${esc(0xf5)}${esc(0x80)}`],
    ['escaped byte next to real U+FFFD', [0xff, 0xef, 0xbf, 0xbd], `${esc(0xff)}\ufffd`],
  ];
  for (const [label, bytes, decoded] of cases) {
    it(`${label}: decodes and encodes back`, () => {
      const buf = Buffer.from(bytes);
      assert.equal(decodeName(buf), decoded);
      assert.deepEqual([...encodeName(decoded)], bytes);
    });
  }

  it('agrees with the platform decoder on valid UTF-8', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        const bytes = Buffer.from(s, 'utf8');
        assert.equal(decodeName(bytes), s);
        assert.equal(hasEscapedBytes(s), false);
      }),
      { numRuns: 500 },
    );
  });

  it('round trips any bytes, and decoded strings never contain U+FFFD for an invalid byte', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), (bytes) => {
        const s = decodeName(bytes);
        assert.deepEqual([...encodeName(s)], [...bytes]);
        // Valid UTF-8 decodes without escapes; anything else has at least one.
        const valid = Buffer.from(Buffer.from(bytes).toString('utf8'), 'utf8').equals(Buffer.from(bytes));
        assert.equal(hasEscapedBytes(s), !valid);
      }),
      { numRuns: 3000 },
    );
  });

  it('is injective: different bytes never decode to the same name', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 6 }), fc.uint8Array({ maxLength: 6 }), (a, b) => {
        if (!Buffer.from(a).equals(Buffer.from(b))) assert.notEqual(decodeName(a), decodeName(b));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('toFsPath', () => {
  it('returns plain strings unchanged (the fast path) and escaped paths as their bytes', () => {
    assert.equal(toFsPath('/src/a/é/😀'), '/src/a/é/😀');
    assert.equal(toFsPath('/src/\ud83d\udc80'), '/src/\ud83d\udc80');
    const p = toFsPath(`/src/dir${esc(0xff)}/f`);
    assert.ok(Buffer.isBuffer(p));
    assert.deepEqual(p, Buffer.concat([Buffer.from('/src/dir'), Buffer.of(0xff), Buffer.from('/f')]));
  });
});

describe('decodeNames', () => {
  it('re-reads as bytes only when a name has U+FFFD', () => {
    let rereads = 0;
    const reread = () => {
      rereads++;
      return [Buffer.from('ok'), Buffer.of(0x62, 0xff)];
    };
    const plain = ['ok', 'é'];
    assert.equal(decodeNames(plain, reread), plain, 'the same array: the scanner relies on it to skip toFsPath');
    assert.equal(rereads, 0);
    assert.deepEqual(decodeNames(['ok', 'b\ufffd'], reread), ['ok', `b${esc(0xff)}`]);
    assert.equal(rereads, 1);
  });
});

describe('quotePath', () => {
  const cases: [string, string][] = [
    ['plain', '"plain"'],
    [`bad${esc(0xff)}name`, '"bad\\xffname"'],
    [`docs${esc(0xe9)}/a`, '"docs\\xe9/a"'],
    ['back\\udc80slash', '"back\\\\udc80slash"'],
    [`\\${esc(0x80)}`, '"\\\\\\x80"'],
    ['😀\ud83d\udc80', '"😀\ud83d\udc80"'],
    ['new\nline', '"new\\nline"'],
  ];
  for (const [path, quoted] of cases) it(`${JSON.stringify(path)} → ${quoted}`, () => assert.equal(quotePath(path), quoted));
});
