/**
 * Group commit: store writes requested by concurrent operations within one turn of the event
 * loop run in a single transaction. Each caller still waits until its own write is committed
 * (so a temp file is journalled before it exists, and a result is recorded before it is
 * reported), but eight parallel uploads cost one commit instead of eight: SQLite spends most
 * of a small write on locking and WAL bookkeeping per transaction.
 */
import type { Store } from './store.ts';

export class GroupCommit {
  private queue: { fn: () => void; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private scheduled = false;

  constructor(private readonly store: Store) {}

  write(fn: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ fn, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    try {
      this.store.transaction(() => {
        for (const w of batch) w.fn();
      });
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    for (const w of batch) w.resolve();
  }
}
