import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyHead, extensionTopType } from './sniff.ts';

describe('content sniffing', () => {
  const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');
  const cases: [string, Buffer, string, string | undefined][] = [
    ['PNG bytes under a .txt name', png, 'a.txt', 'image'],
    ['plain text', Buffer.from('hello world\n'), 'a.bin', 'text'],
    ['UTF-8 text with CJK', Buffer.from('漢字 ok'), 'x', 'text'],
    ['SVG is text that the extension calls image', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), 'i.svg', 'image'],
    ['binary junk: detection fails', Buffer.from([0, 1, 2, 255, 254, 0]), 'x.dat', undefined],
    ['empty file: detection fails', Buffer.alloc(0), 'x.txt', undefined],
  ];
  for (const [name, head, path, expected] of cases) it(name, async () => assert.equal(await classifyHead(head, path), expected));
  it('maps extensions to top-level types', () => {
    assert.equal(extensionTopType('a.JPG'), 'image');
    assert.equal(extensionTopType('a.css'), 'text');
    assert.equal(extensionTopType('noext'), undefined);
  });
});
