import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeName } from '../../core/names.ts';
import { wirePath } from './byte-names.ts';
import { loadSsh2 } from './ssh2-module.ts';

const esc = (byte: number) => String.fromCharCode(0xdc00 + byte);

describe('SFTP byte names (the ssh2 patch)', () => {
  it('plain names stay strings; a name with bytes becomes exactly those bytes on the wire', async () => {
    await loadSsh2();
    assert.equal(wirePath('docs/café'), 'docs/café');
    const wire = wirePath(`dir${esc(0xff)}/bad${esc(0xfe)}name`) as unknown;
    assert.ok(Buffer.isBuffer(wire));
    // What ssh2 does with a path: byteLength, then utf8Write into the packet.
    const packet = Buffer.alloc(Buffer.byteLength(wire as Buffer));
    const n = (packet as unknown as { utf8Write(s: unknown, o: number, l: number): number }).utf8Write(wire, 0, packet.length);
    assert.equal(n, 13);
    assert.deepEqual(packet, Buffer.concat([Buffer.from('dir'), Buffer.of(0xff), Buffer.from('/bad'), Buffer.of(0xfe), Buffer.from('name')]));
    assert.equal(decodeName(packet), `dir${esc(0xff)}/bad${esc(0xfe)}name`);
  });

  it('utf8Write behaves as before for strings and for buffers that are not ours', async () => {
    await loadSsh2();
    const b = Buffer.alloc(8);
    assert.equal(b.write('é'), 2);
    assert.deepEqual(b.subarray(0, 2), Buffer.from('é'));
    assert.throws(() => (b as unknown as { utf8Write(s: unknown): number }).utf8Write(Buffer.from('x')), TypeError);
  });
});
