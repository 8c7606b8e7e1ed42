import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatListenAddress, parseListenAddress } from './listen-address.ts';

describe('parseListenAddress (metrics:)', () => {
  const good: [unknown, string | undefined][] = [
    [undefined, undefined],
    [false, undefined],
    [true, '127.0.0.1:9464'],
    [9100, '127.0.0.1:9100'],
    ['9100', '127.0.0.1:9100'],
    ['127.0.0.1:9464', '127.0.0.1:9464'],
    ['0.0.0.0:9464', '0.0.0.0:9464'],
    ['localhost:9000', 'localhost:9000'],
    ['[::1]:9464', '[::1]:9464'],
    ['[::]:1', '[::]:1'],
    [' 10.0.0.2:65535 ', '10.0.0.2:65535'],
  ];
  for (const [input, want] of good) {
    it(`${JSON.stringify(input)} → ${want ?? 'off'}`, () => {
      const r = parseListenAddress(input);
      assert.ok(r.ok, JSON.stringify(r));
      assert.equal(r.address === undefined ? undefined : formatListenAddress(r.address), want);
    });
  }
  const bad: [unknown, RegExp][] = [
    [0, /port 0 is not a port/],
    [70000, /port 70000/],
    [1.5, /port 1.5/],
    ['127.0.0.1', /is not host:port/],
    ['127.0.0.1:0', /port 0/],
    ['300.1.1.1:9464', /not a host name or IP/],
    ['::1:9464', /is not host:port/],
    ['http://127.0.0.1:9464', /is not host:port/],
    ['a b:80', /not a host name/],
    [{}, /give a port/],
  ];
  for (const [input, want] of bad) {
    it(`${JSON.stringify(input)} is refused with the fix`, () => {
      const r = parseListenAddress(input);
      assert.equal(r.ok, false);
      if (!r.ok) {
        assert.match(r.message, want);
        assert.match(r.message, /host:port/);
      }
    });
  }
});
