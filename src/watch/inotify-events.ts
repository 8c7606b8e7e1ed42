/**
 * inotify's events as data, and what the watcher does with one read of them (pure: no I/O;
 * the I/O is inotify-watcher.ts). README "Watching" and docs/architecture.md describe the
 * behaviour.
 *
 * A read of an inotify descriptor returns whole `struct inotify_event`s in kernel order:
 * `int wd; uint32 mask; uint32 cookie; uint32 len; char name[len]` (name NUL-padded, native
 * byte order: little-endian on every Linux port Node ships for). Names are bytes and stay so
 * (core/names.ts decodes them later).
 *
 * `planBatch` turns one read into actions, in order:
 *  - a rename inside the tree is one IN_MOVED_FROM/IN_MOVED_TO pair with the same cookie,
 *    adjacent in the queue: it is paired within the read, without waiting for anything. A
 *    directory renamed that way keeps its watches (they follow the inode): `dir-moved`. An
 *    IN_MOVED_FROM left unpaired at the end of the read left the tree (`dir-gone`: its watches
 *    must go, or they would report a tree outside ours); an unpaired IN_MOVED_TO came in
 *    (`dir-appeared`). A pair split across two reads is rare and still correct that way.
 *  - every named event is also a hint of that path: deep when the entry went away (its subtree
 *    went with it), `closed` when it is IN_CLOSE_WRITE: a file closed after writing, which the
 *    engine may send at once instead of waiting for the quiet window.
 *  - IN_Q_OVERFLOW (wd -1): events were lost; IN_DELETE_SELF/IN_MOVE_SELF/IN_UNMOUNT: the
 *    watched directory itself went; IN_IGNORED: its watch is gone.
 */

/** The inotify constants (Linux ABI, <sys/inotify.h>; the binding exports them too, and a test compares). */
export const IN = {
  ACCESS: 0x1,
  MODIFY: 0x2,
  ATTRIB: 0x4,
  CLOSE_WRITE: 0x8,
  CLOSE_NOWRITE: 0x10,
  OPEN: 0x20,
  MOVED_FROM: 0x40,
  MOVED_TO: 0x80,
  CREATE: 0x100,
  DELETE: 0x200,
  DELETE_SELF: 0x400,
  MOVE_SELF: 0x800,
  UNMOUNT: 0x2000,
  Q_OVERFLOW: 0x4000,
  IGNORED: 0x8000,
  ONLYDIR: 0x1000000,
  DONT_FOLLOW: 0x2000000,
  EXCL_UNLINK: 0x4000000,
  ISDIR: 0x40000000,
} as const;

/**
 * What each directory watch asks for. IN_ONLYDIR | IN_DONT_FOLLOW: a path that is no longer a
 * directory, or became a symlink, is refused by the kernel instead of watched outside the tree.
 * IN_EXCL_UNLINK: no events from files unlinked but still open. No IN_OPEN/IN_ACCESS/
 * IN_CLOSE_NOWRITE: reads change nothing to mirror.
 */
export const WATCH_MASK =
  IN.MODIFY | IN.ATTRIB | IN.CLOSE_WRITE | IN.MOVED_FROM | IN.MOVED_TO | IN.CREATE | IN.DELETE | IN.DELETE_SELF | IN.MOVE_SELF | IN.ONLYDIR | IN.DONT_FOLLOW | IN.EXCL_UNLINK;

export interface InotifyEvent {
  readonly wd: number;
  readonly mask: number;
  readonly cookie: number;
  /** The entry's name in the watched directory, as bytes; undefined for events on the directory itself. */
  readonly name: Buffer | undefined;
}

const HEADER = 16;

/**
 * Decodes one read's bytes. The kernel only returns whole events; a truncated tail (which it
 * never produces) is reported as `truncated` rather than guessed at.
 */
export function decodeEvents(bytes: Buffer): { events: InotifyEvent[]; truncated: boolean } {
  const events: InotifyEvent[] = [];
  let off = 0;
  while (off + HEADER <= bytes.length) {
    const wd = bytes.readInt32LE(off);
    const mask = bytes.readUInt32LE(off + 4);
    const cookie = bytes.readUInt32LE(off + 8);
    const len = bytes.readUInt32LE(off + 12);
    if (off + HEADER + len > bytes.length) break;
    let name: Buffer | undefined;
    if (len > 0) {
      const raw = bytes.subarray(off + HEADER, off + HEADER + len);
      const nul = raw.indexOf(0);
      const cut = nul < 0 ? raw : raw.subarray(0, nul);
      // A copy: the read's buffer is not kept alive by the names we hold.
      name = cut.length > 0 ? Buffer.from(cut) : undefined;
    }
    events.push({ wd, mask, cookie, name });
    off += HEADER + len;
  }
  return { events, truncated: off !== bytes.length };
}

/** Encodes events as the kernel would (for tests and fixtures). */
export function encodeEvents(events: readonly InotifyEvent[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of events) {
    // The kernel pads names with NULs to a multiple of the header's alignment.
    const len = e.name ? Math.ceil((e.name.length + 1) / HEADER) * HEADER : 0;
    const b = Buffer.alloc(HEADER + len);
    b.writeInt32LE(e.wd, 0);
    b.writeUInt32LE(e.mask >>> 0, 4);
    b.writeUInt32LE(e.cookie >>> 0, 8);
    b.writeUInt32LE(len, 12);
    e.name?.copy(b, HEADER);
    parts.push(b);
  }
  return Buffer.concat(parts);
}

/** One entry of a watched directory. */
export interface EntryRef {
  readonly wd: number;
  readonly name: Buffer;
}

export type WatchAction =
  /** Events were lost (IN_Q_OVERFLOW): rescan, and look for directories not watched yet. */
  | { readonly kind: 'overflow' }
  /** A hint of the entry: deep when it went away; closed when a file was closed after writing. */
  | { readonly kind: 'hint'; readonly at: EntryRef; readonly deep: boolean; readonly closed: boolean }
  /** A directory appeared (created, or moved in from outside the tree): watch it and all under it. */
  | { readonly kind: 'dir-appeared'; readonly at: EntryRef }
  /** A directory went away (deleted, or moved out of the tree): drop its watches. */
  | { readonly kind: 'dir-gone'; readonly at: EntryRef }
  /** A directory renamed inside the tree: its watches follow it. */
  | { readonly kind: 'dir-moved'; readonly from: EntryRef; readonly to: EntryRef }
  /** The watched directory itself was deleted, moved, or unmounted. */
  | { readonly kind: 'self-gone'; readonly wd: number }
  /** The watch is gone (the kernel removed it, or we did). */
  | { readonly kind: 'ignored'; readonly wd: number };

/**
 * The actions for one read, in kernel order (see the header). Hints come first for each event,
 * then what it means for the watches, so a hint is never lost to a watch change.
 */
export function planBatch(events: readonly InotifyEvent[]): WatchAction[] {
  // Cookies of IN_MOVED_TO in this read, to pair each IN_MOVED_FROM with.
  const movedTo = new Map<number, number>();
  events.forEach((e, i) => {
    if (e.mask & IN.MOVED_TO && e.cookie !== 0 && e.name && !movedTo.has(e.cookie)) movedTo.set(e.cookie, i);
  });
  const consumed = new Set<number>();
  const out: WatchAction[] = [];
  events.forEach((e, i) => {
    if (e.mask & IN.Q_OVERFLOW) {
      out.push({ kind: 'overflow' });
      return;
    }
    if (!e.name) {
      if (e.mask & (IN.DELETE_SELF | IN.MOVE_SELF | IN.UNMOUNT)) out.push({ kind: 'self-gone', wd: e.wd });
      if (e.mask & IN.IGNORED) out.push({ kind: 'ignored', wd: e.wd });
      return;
    }
    const at: EntryRef = { wd: e.wd, name: e.name };
    const isDir = (e.mask & IN.ISDIR) !== 0;
    if (e.mask & IN.MOVED_FROM) {
      out.push({ kind: 'hint', at, deep: true, closed: false });
      if (!isDir) return;
      const j = e.cookie !== 0 ? movedTo.get(e.cookie) : undefined;
      if (j !== undefined && j > i && !consumed.has(j)) {
        const t = events[j]!;
        consumed.add(j);
        // The pair's destination is hinted here too, at the rename: nothing waits for it.
        const to: EntryRef = { wd: t.wd, name: t.name! };
        out.push({ kind: 'hint', at: to, deep: true, closed: false });
        out.push({ kind: 'dir-moved', from: at, to });
      } else {
        out.push({ kind: 'dir-gone', at });
      }
      return;
    }
    if (consumed.has(i)) return; // the IN_MOVED_TO of a directory pair, done with its source
    if (e.mask & (IN.DELETE | IN.MOVED_TO | IN.CREATE)) {
      const gone = (e.mask & IN.DELETE) !== 0;
      out.push({ kind: 'hint', at, deep: gone || isDir, closed: false });
      if (isDir) out.push(gone ? { kind: 'dir-gone', at } : { kind: 'dir-appeared', at });
      return;
    }
    // IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE (the kernel sends one bit per event).
    out.push({ kind: 'hint', at, deep: false, closed: (e.mask & IN.CLOSE_WRITE) !== 0 });
  });
  return out;
}

/** A path's pending hint: deep if any event was; closed if its latest event was IN_CLOSE_WRITE. */
export interface PendingHint {
  readonly deep: boolean;
  readonly closed: boolean;
}

/** Merges a new hint of a path into the one pending for it (order matters: the latest event decides `closed`). */
export function mergeHint(prev: PendingHint | undefined, next: PendingHint): PendingHint {
  return { deep: (prev?.deep ?? false) || next.deep, closed: next.closed };
}
