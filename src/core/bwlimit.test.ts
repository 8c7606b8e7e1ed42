import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatRate, isUnlimited, parseBwlimit, parseRate, rateAt } from './bwlimit.ts';

describe('parseRate', () => {
  const good: [string, number | undefined][] = [
    ['10M', 10 * 1024 * 1024],
    ['512k', 512 * 1024],
    ['512K', 512 * 1024],
    ['1.5M', 1.5 * 1024 * 1024],
    ['2G', 2 * 1024 ** 3],
    ['100B', 100],
    ['100KiB', 100 * 1024],
    ['2MB/s', 2 * 1024 * 1024],
    ['off', undefined],
    ['OFF', undefined],
  ];
  for (const [text, want] of good) {
    it(`${text} → ${want ?? 'off'}`, () => assert.deepEqual(parseRate(text), { ok: true, rate: want }));
  }
  const bad: [string, RegExp][] = [
    ['1024', /has no unit/],
    ['10X', /is not a rate/],
    ['-1M', /is not a rate/],
    ['0k', /no bandwidth at all: write off/],
    ['', /is not a rate/],
    ['10M:1M', /is not a rate/],
  ];
  for (const [text, want] of bad) {
    it(`${JSON.stringify(text)} is refused`, () => {
      const r = parseRate(text);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.message, want);
    });
  }
});

describe('parseBwlimit and rateAt', () => {
  it('one rate holds all day', () => {
    const r = parseBwlimit('2M');
    assert.ok(r.ok);
    if (r.ok) {
      assert.equal(rateAt(r.schedule, 0), 2 * 1024 * 1024);
      assert.equal(rateAt(r.schedule, 23 * 60 + 59), 2 * 1024 * 1024);
    }
  });
  it("rclone's timetable: sorted, and before the first entry the day's last holds", () => {
    const r = parseBwlimit('19:00,off   08:00,512k 12:30,1M');
    assert.ok(r.ok);
    if (!r.ok) return;
    assert.deepEqual(r.schedule.map((e) => e.atMinute), [480, 750, 1140]);
    const table: [number, number | undefined][] = [
      [0, undefined], // 00:00: still 19:00's off
      [479, undefined],
      [480, 512 * 1024],
      [749, 512 * 1024],
      [750, 1024 * 1024],
      [1139, 1024 * 1024],
      [1140, undefined],
      [1439, undefined],
    ];
    for (const [minute, want] of table) assert.equal(rateAt(r.schedule, minute), want, `minute ${minute}`);
    assert.equal(isUnlimited(r.schedule), false);
  });
  it('a timetable that wraps: the last entry holds until the first', () => {
    const r = parseBwlimit('23:00,10M 06:00,1M');
    assert.ok(r.ok);
    if (r.ok) {
      assert.equal(rateAt(r.schedule, 3 * 60), 10 * 1024 * 1024);
      assert.equal(rateAt(r.schedule, 7 * 60), 1024 * 1024);
    }
  });
  it('off is unlimited', () => {
    const r = parseBwlimit('off');
    assert.ok(r.ok && isUnlimited(r.schedule));
  });
  const bad: [unknown, RegExp][] = [
    [1024, /1024 has no unit/],
    ['', /write a rate/],
    ['08:00,512k 19:00', /"19:00" is not HH:MM,RATE/],
    ['Mon-08:00,512k', /weekday entries/],
    ['25:00,1M 08:00,off', /25:00 is not a time of day/],
    ['08:00,1M 08:00,2M', /given twice/],
    ['08:00,1Q 19:00,off', /timetable entry "08:00,1Q": "1Q" is not a rate/],
    [true, /write a rate/],
  ];
  for (const [value, want] of bad) {
    it(`${JSON.stringify(value)} is refused with the fix`, () => {
      const r = parseBwlimit(value);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.message, want);
    });
  }
  it('formatRate', () => {
    assert.equal(formatRate(2 * 1024 * 1024), '2 MiB/s');
    assert.equal(formatRate(512 * 1024), '512 KiB/s');
    assert.equal(formatRate(100), '100 B/s');
    assert.equal(formatRate(undefined), 'off');
  });
});
