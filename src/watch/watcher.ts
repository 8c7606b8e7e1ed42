/**
 * The watcher contract: it reports paths (relative to the watched root) that may have
 * changed, nothing more. The engine re-reads the file system for each hint, so a watcher may
 * over-report freely; it must never under-report silently: when it may have lost events it
 * calls `onLost` and the engine rescans everything.
 */
import type { Scope } from '../core/scope.ts';

export interface WatcherCallbacks {
  onHints(hints: Scope[]): void;
  /** Events may have been lost (queue overflow, watcher error): rescan. */
  onLost(reason: string): void;
  /** Something worth one log line that needs no rescan (e.g. watches available again). */
  onNote?(message: string): void;
}

export interface Watcher {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** inotify watches held now (metrics); undefined when the watcher cannot tell. */
  watchCount?(): number;
}
