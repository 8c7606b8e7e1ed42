/**
 * Top-level MIME type of a file from its content (README: Filters): magic bytes via
 * file-type; else text when the head has no NUL and is valid UTF-8; else undefined
 * ("detection failed", so the extension decides). SVG is XML text: its extension says image.
 */
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { extensionOf } from '../core/filter.ts';
import { toFsPath } from '../core/names.ts';

const HEAD_BYTES = 4100;

export async function sniffTopType(absPath: string): Promise<string | undefined> {
  const fh = await open(toFsPath(absPath), 'r');
  let head: Buffer;
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    head = buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  return classifyHead(head, absPath);
}

export async function classifyHead(head: Buffer, path: string): Promise<string | undefined> {
  if (head.length === 0) return undefined;
  // Loaded on first use: only a `fileTypes` filter sniffs, and file-type costs ~30 ms to load.
  const { fileTypeFromBuffer } = await import('file-type');
  const detected = await fileTypeFromBuffer(head);
  if (detected) return detected.mime.split('/')[0];
  if (looksLikeText(head)) return extensionOf(path) === 'svg' ? 'image' : 'text';
  return undefined;
}

export function looksLikeText(head: Buffer): boolean {
  if (head.includes(0)) return false;
  try {
    // stream: true tolerates a multi-byte character cut at the end of the head.
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
    return true;
  } catch {
    return false;
  }
}

/**
 * mime-types builds its tables when loaded (~5 ms); only a type filter needs them, so they
 * are loaded on first use rather than at every start.
 */
let mimeTypes: typeof import('mime-types') | undefined;

export function extensionTopType(path: string): string | undefined {
  mimeTypes ??= createRequire(import.meta.url)('mime-types') as typeof import('mime-types');
  const type = mimeTypes.lookup(path);
  return type === false ? undefined : type.split('/')[0];
}
