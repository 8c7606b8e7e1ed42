/**
 * Temporary names for atomic uploads: in the final directory, hidden, recognisable (so the
 * watcher and filters skip them and a crash's leftovers can be found), and short enough for
 * 255-byte name limits.
 */
import { baseName, joinPath, parentOf } from './paths.ts';

export const TEMP_MARKER = '.sync-inotify-';
const TEMP_RE = /^\..*\.sync-inotify-[0-9a-z]{6}\.tmp$/;

export function tempPathFor(path: string, token: string): string {
  let base = baseName(path);
  // Keep the name under 255 bytes: trim the original part (by UTF-8 bytes) when needed.
  while (Buffer.byteLength(base) > 200) base = base.slice(0, -1);
  return joinPath(parentOf(path), `.${base}${TEMP_MARKER}${token}.tmp`);
}

export function isTempName(name: string): boolean {
  return TEMP_RE.test(name);
}

export function randomToken(random: () => number = Math.random): string {
  let s = '';
  for (let i = 0; i < 6; i++) s += Math.floor(random() * 36).toString(36);
  return s;
}
