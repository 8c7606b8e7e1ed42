/**
 * Names are bytes on SFTP: OpenSSH's sftp-server passes every path to the file system as the
 * bytes it received and lists names as the bytes readdir(3) gave it. ssh2 1.17, though, writes
 * a request's paths with `Buffer.byteLength(path)` + `buf.utf8Write(path)` and reads every
 * name of a NAME reply (READDIR, REALPATH, READLINK) with `bufferParser.readString(true)`,
 * i.e. `utf8Slice`: a byte that is not valid UTF-8 cannot be sent, and comes back as U+FFFD.
 * Two small patches, applied once before ssh2's SFTP module loads, make both exact:
 *
 *  - names read: the SFTP module's one buffer parser (made by `makeBufferParser()` when the
 *    module loads) gets a `readString(true)` that decodes with core/names.ts (valid UTF-8
 *    decodes as before; an invalid byte becomes its escape, U+DC80 + byte). The wrapper is in
 *    place only while that module loads, so ssh2's other parsers (keys, the SSH transport)
 *    are untouched.
 *  - paths sent: a path with escaped bytes is handed to ssh2 as a Buffer of its bytes
 *    (`wirePath`). `Buffer.byteLength` already counts a Buffer's bytes; `utf8Write` throws
 *    for anything but a string, so it is wrapped to copy the bytes of exactly those Buffers
 *    (tagged in a WeakSet) and to behave as before for every other argument.
 *
 * The patch is written for ssh2 1.17 (pinned in package.json): another version, or ssh2's
 * SFTP module loaded before the patch, is an error at the first SFTP connect that names this
 * file, never a silent fallback to lossy names. Plain names cost nothing: they are sent as
 * strings, and decoding a valid name is one `toString` as before.
 */
import { decodeName, encodeName, hasEscapedBytes } from '../../core/names.ts';
import { TargetError } from '../errors.ts';

/** The ssh2 versions whose lib/protocol/SFTP.js this patch was checked against. */
const PATCHED_VERSIONS = /^1\.17\./;

/** Buffers we made for paths: the only non-strings the wrapped `utf8Write` accepts. */
const wireBuffers = new WeakSet<Uint8Array>();

/**
 * What to hand an ssh2 SFTP method for an internal (escaped) path: the string itself when it
 * is plain UTF-8, else a Buffer of its bytes (typed as a string for ssh2's signatures).
 */
export function wirePath(path: string): string {
  if (!hasEscapedBytes(path)) return path;
  const bytes = encodeName(path);
  wireBuffers.add(bytes);
  return bytes as unknown as string;
}

interface BufferParser {
  readString(dest?: unknown, maxLen?: number): unknown;
}
interface Ssh2Utils {
  makeBufferParser(): BufferParser;
}

let applied: Promise<void> | undefined;

/** Applies both patches (once); rejects with a clear error when they cannot apply. */
export function patchSsh2ForByteNames(): Promise<void> {
  applied ??= apply();
  return applied;
}

function cannotPatch(why: string): TargetError {
  return new TargetError('E_CONFIG', `sync-inotify cannot make ssh2 carry file names as bytes (src/targets/sftp/byte-names.ts): ${why}. Install the ssh2 version package.json pins (npm ci)`);
}

async function apply(): Promise<void> {
  const pkg = (await import('ssh2/package.json', { with: { type: 'json' } })) as { default: { version: string } };
  const version = pkg.default.version;
  if (!PATCHED_VERSIONS.test(version)) throw cannotPatch(`ssh2 ${version} is installed, the patch is written for 1.17`);

  const utilsModule = (await import('ssh2/lib/protocol/utils.js')) as { default: Ssh2Utils };
  const utils = utilsModule.default;
  const make = utils.makeBufferParser;
  if (typeof make !== 'function') throw cannotPatch('ssh2/lib/protocol/utils.js has no makeBufferParser');
  let parsersMade = 0;
  utils.makeBufferParser = () => {
    const parser = make();
    const readString = parser.readString;
    parser.readString = (dest?: unknown, maxLen?: number) => {
      if (dest !== true) return readString(dest, maxLen);
      // The same checks and position handling as ssh2's: read the raw bytes, decode them ours.
      const raw = readString(maxLen);
      return Buffer.isBuffer(raw) ? decodeName(raw) : raw;
    };
    parsersMade++;
    return parser;
  };
  try {
    await import('ssh2/lib/protocol/SFTP.js');
  } finally {
    utils.makeBufferParser = make;
  }
  if (parsersMade !== 1) throw cannotPatch(`ssh2's SFTP module made ${parsersMade} buffer parsers while loading (expected 1: was it loaded before this patch?)`);

  const proto = Buffer.prototype as unknown as { utf8Write(s: unknown, offset?: number, length?: number): number };
  const utf8Write = proto.utf8Write;
  if (typeof utf8Write !== 'function') throw cannotPatch('Buffer.prototype.utf8Write is missing in this Node version');
  proto.utf8Write = function (this: Buffer, s: unknown, offset?: number, length?: number): number {
    if (typeof s === 'string' || !(s instanceof Uint8Array) || !wireBuffers.has(s)) return utf8Write.call(this, s, offset, length);
    const at = offset ?? 0;
    const n = Math.min(s.length, length ?? this.length - at, this.length - at);
    this.set(s.subarray(0, n), at);
    return n;
  };
}
