/**
 * The pure half of the inotify watcher: decoding a read's bytes, and planning what one read
 * means (hints, watches to add, move or drop), as tables.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeEvents, encodeEvents, IN, mergeHint, planBatch, type InotifyEvent, type WatchAction } from './inotify-events.ts';
import { loadInotifyBinding } from './inotify-binding.ts';

const ev = (wd: number, mask: number, name?: string | Buffer, cookie = 0): InotifyEvent => ({
  wd,
  mask,
  cookie,
  name: name === undefined ? undefined : typeof name === 'string' ? Buffer.from(name) : name,
});

describe('decodeEvents', () => {
  it('round-trips events with and without names, keeping name bytes exactly (not UTF-8)', () => {
    const events = [ev(1, IN.CREATE, 'a'), ev(2, IN.DELETE_SELF), ev(1, IN.MOVED_FROM | IN.ISDIR, Buffer.of(0x66, 0xff, 0xfe), 7), ev(-1, IN.Q_OVERFLOW), ev(3, IN.CLOSE_WRITE, 'x'.repeat(255))];
    const bytes = encodeEvents(events);
    const { events: got, truncated } = decodeEvents(bytes);
    assert.equal(truncated, false);
    assert.deepEqual(got, events);
  });

  it('decodes the layout the kernel writes: 16-byte header, NUL-padded name', () => {
    const b = Buffer.alloc(32);
    b.writeInt32LE(5, 0);
    b.writeUInt32LE(IN.CLOSE_WRITE, 4);
    b.writeUInt32LE(0, 8);
    b.writeUInt32LE(16, 12);
    b.write('hello', 16, 'latin1');
    assert.deepEqual(decodeEvents(b).events, [ev(5, IN.CLOSE_WRITE, 'hello')]);
  });

  const truncations: [string, number][] = [
    ['in the header', 10],
    ['in the name', 20],
  ];
  for (const [where, cut] of truncations) {
    it(`a tail cut ${where} is reported, not guessed at`, () => {
      const bytes = encodeEvents([ev(1, IN.CREATE, 'first'), ev(1, IN.CREATE, 'second')]);
      const one = encodeEvents([ev(1, IN.CREATE, 'first')]).length;
      const got = decodeEvents(bytes.subarray(0, one + cut));
      assert.equal(got.truncated, true);
      assert.deepEqual(got.events, [ev(1, IN.CREATE, 'first')]);
    });
  }

  it('the constants match the binding when it is built', (ctx) => {
    const loaded = loadInotifyBinding();
    if (!('binding' in loaded)) return ctx.skip(loaded.reason);
    for (const [k, v] of Object.entries(IN)) assert.equal(loaded.binding.constants[`IN_${k}`], v, `IN_${k}`);
  });
});

/** Actions with names as strings, for readable tables. */
type Plain =
  | ['overflow']
  | ['hint', number, string, 'deep' | 'shallow', 'closed' | 'open']
  | ['appeared' | 'gone', number, string]
  | ['moved', number, string, number, string]
  | ['self-gone' | 'ignored', number];

function plain(a: WatchAction): Plain {
  switch (a.kind) {
    case 'overflow':
      return ['overflow'];
    case 'hint':
      return ['hint', a.at.wd, a.at.name.toString('latin1'), a.deep ? 'deep' : 'shallow', a.closed ? 'closed' : 'open'];
    case 'dir-appeared':
      return ['appeared', a.at.wd, a.at.name.toString('latin1')];
    case 'dir-gone':
      return ['gone', a.at.wd, a.at.name.toString('latin1')];
    case 'dir-moved':
      return ['moved', a.from.wd, a.from.name.toString('latin1'), a.to.wd, a.to.name.toString('latin1')];
    case 'self-gone':
    case 'ignored':
      return [a.kind, a.wd];
  }
}

describe('planBatch', () => {
  const D = IN.ISDIR;
  const cases: [string, InotifyEvent[], Plain[]][] = [
    [
      'a file written and closed: shallow hints, the close marked closed',
      [ev(1, IN.CREATE, 'f'), ev(1, IN.MODIFY, 'f'), ev(1, IN.CLOSE_WRITE, 'f')],
      [
        ['hint', 1, 'f', 'shallow', 'open'],
        ['hint', 1, 'f', 'shallow', 'open'],
        ['hint', 1, 'f', 'shallow', 'closed'],
      ],
    ],
    ['a file deleted: deep (its name may have been a directory a moment ago)', [ev(1, IN.DELETE, 'f')], [['hint', 1, 'f', 'deep', 'open']]],
    ['a directory created: deep hint, then watched', [ev(1, IN.CREATE | D, 'd')], [['hint', 1, 'd', 'deep', 'open'], ['appeared', 1, 'd']]],
    ['a directory deleted: deep hint, then unwatched', [ev(1, IN.DELETE | D, 'd')], [['hint', 1, 'd', 'deep', 'open'], ['gone', 1, 'd']]],
    [
      'a directory renamed inside the tree: paired by cookie, at once',
      [ev(1, IN.MOVED_FROM | D, 'old', 9), ev(2, IN.MOVED_TO | D, 'new', 9)],
      [['hint', 1, 'old', 'deep', 'open'], ['hint', 2, 'new', 'deep', 'open'], ['moved', 1, 'old', 2, 'new']],
    ],
    [
      'a file renamed: both names hinted, the source deep',
      [ev(1, IN.MOVED_FROM, 'a', 4), ev(1, IN.MOVED_TO, 'b', 4)],
      [['hint', 1, 'a', 'deep', 'open'], ['hint', 1, 'b', 'shallow', 'open']],
    ],
    ['a directory moved out of the tree (no IN_MOVED_TO in the read): gone', [ev(1, IN.MOVED_FROM | D, 'd', 5)], [['hint', 1, 'd', 'deep', 'open'], ['gone', 1, 'd']]],
    ['a directory moved in from outside (no IN_MOVED_FROM): appeared', [ev(1, IN.MOVED_TO | D, 'd', 5)], [['hint', 1, 'd', 'deep', 'open'], ['appeared', 1, 'd']]],
    [
      'two renames in one read pair by their own cookies',
      [ev(1, IN.MOVED_FROM | D, 'a', 1), ev(1, IN.MOVED_TO | D, 'b', 1), ev(1, IN.MOVED_FROM | D, 'c', 2), ev(3, IN.MOVED_TO | D, 'd', 2)],
      [
        ['hint', 1, 'a', 'deep', 'open'],
        ['hint', 1, 'b', 'deep', 'open'],
        ['moved', 1, 'a', 1, 'b'],
        ['hint', 1, 'c', 'deep', 'open'],
        ['hint', 3, 'd', 'deep', 'open'],
        ['moved', 1, 'c', 3, 'd'],
      ],
    ],
    [
      'an IN_MOVED_TO before its IN_MOVED_FROM (never in kernel order) is not paired backwards',
      [ev(2, IN.MOVED_TO | D, 'new', 9), ev(1, IN.MOVED_FROM | D, 'old', 9)],
      [['hint', 2, 'new', 'deep', 'open'], ['appeared', 2, 'new'], ['hint', 1, 'old', 'deep', 'open'], ['gone', 1, 'old']],
    ],
    ['overflow', [ev(-1, IN.Q_OVERFLOW)], [['overflow']]],
    ['the watched directory itself deleted, then its watch ignored', [ev(4, IN.DELETE_SELF), ev(4, IN.IGNORED)], [['self-gone', 4], ['ignored', 4]]],
    ['moved or unmounted', [ev(4, IN.MOVE_SELF), ev(5, IN.UNMOUNT)], [['self-gone', 4], ['self-gone', 5]]],
    ['attribute change of an entry: shallow', [ev(1, IN.ATTRIB, 'f'), ev(1, IN.ATTRIB | D, 'd')], [['hint', 1, 'f', 'shallow', 'open'], ['hint', 1, 'd', 'shallow', 'open']]],
  ];
  for (const [name, events, want] of cases) it(name, () => assert.deepEqual(planBatch(events).map(plain), want));
});

describe('mergeHint', () => {
  const cases: [string, { deep: boolean; closed: boolean } | undefined, { deep: boolean; closed: boolean }, { deep: boolean; closed: boolean }][] = [
    ['first hint', undefined, { deep: false, closed: true }, { deep: false, closed: true }],
    ['written again after a close: no longer closed', { deep: false, closed: true }, { deep: false, closed: false }, { deep: false, closed: false }],
    ['closed after writes: closed', { deep: false, closed: false }, { deep: false, closed: true }, { deep: false, closed: true }],
    ['deep stays deep', { deep: true, closed: false }, { deep: false, closed: true }, { deep: true, closed: true }],
  ];
  for (const [name, prev, next, want] of cases) it(name, () => assert.deepEqual(mergeHint(prev, next), want));
});
