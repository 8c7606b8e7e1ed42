import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TargetError } from '../errors.ts';
import { SessionPool, type SessionFactory } from './session-pool.ts';

class FakeSession {
  closed = false;
  settled = 0;
  close(): void {
    this.closed = true;
  }
}

/** A factory whose open() follows a script of outcomes (a session or an error), then succeeds. */
function factory(script: (TargetError | 'ok')[] = [], settle?: (s: FakeSession) => Promise<void> | undefined): SessionFactory<FakeSession> & { opens: number } {
  const f = {
    what: 'the test target',
    opens: 0,
    open: async () => {
      const next = script[f.opens++] ?? 'ok';
      if (next !== 'ok') throw next;
      return new FakeSession();
    },
    ...(settle ? { settle } : {}),
  };
  return f;
}

const RUN = { idempotent: true, deadlineMs: 1_000, label: 'op', path: 'p' };
const FAST = { openRetry: { baseMs: 1, maxMs: 2 }, coolDownMs: 200 };

describe('SessionPool', () => {
  it('opens lazily, reuses an idle session, and counts', async () => {
    const f = factory();
    const pool = new SessionPool(f, { size: 4, ...FAST });
    assert.equal(f.opens, 0);
    await pool.run(async () => 1, RUN);
    await pool.run(async () => 2, RUN);
    assert.equal(f.opens, 1);
    assert.deepEqual({ ...pool.stats(), paused: pool.stats().paused }, { limit: 4, idle: 1, busy: 0, opening: 0, running: 0, waiting: 0, opened: 1, reconnects: 0, openFailures: 0, retried: 0, timedOut: 0, paused: undefined });
  });

  it('never runs more than `size` operations at once', async () => {
    const f = factory();
    const pool = new SessionPool(f, { size: 2, ...FAST });
    let running = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 10 }, () =>
        pool.run(async () => {
          most = Math.max(most, ++running);
          await new Promise((r) => setTimeout(r, 5));
          running--;
        }, RUN),
      ),
    );
    assert.equal(most, 2);
    assert.equal(f.opens, 2);
  });

  it('an error of scope pause is latched without contacting the server again, until reset()', async () => {
    const f = factory([new TargetError('E_AUTH', 'login rejected')]);
    const pool = new SessionPool(f, { size: 2, ...FAST });
    await assert.rejects(pool.run(async () => 1, RUN), /login rejected/);
    await assert.rejects(pool.run(async () => 1, RUN), /login rejected/);
    assert.equal(f.opens, 1);
    assert.equal(pool.stats().paused, 'E_AUTH');
    pool.reset();
    assert.equal(await pool.run(async () => 3, RUN), 3);
  });

  it('retries opening with backoff, then cools down: calls fail fast with the last error', async () => {
    const down = new TargetError('E_CONNECTION', 'refused');
    const f = factory([down, down, down, down]);
    const pool = new SessionPool(f, { size: 1, ...FAST });
    await assert.rejects(pool.run(async () => 1, RUN), /refused/);
    assert.equal(f.opens, 3, 'three attempts');
    await assert.rejects(pool.run(async () => 1, RUN), /refused/);
    assert.equal(f.opens, 3, 'cooling down: no attempt');
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(await pool.run(async () => 4, RUN), 4);
  });

  it('a refused extra session shrinks the pool to what the server accepts', async () => {
    const f = factory(['ok', new TargetError('E_CONNECTION', '421 too many')]);
    const pool = new SessionPool(f, { size: 3, ...FAST, regrowAfterMs: 60_000 });
    await Promise.all(Array.from({ length: 6 }, () => pool.run(() => new Promise((r) => setTimeout(r, 5)), RUN)));
    // Three opened at once; the second was refused while two others were alive or opening.
    assert.equal(pool.stats().limit, 2);
    assert.equal(f.opens, 3, 'no further attempt while shrunk');
  });

  it('an idempotent operation whose connection was lost is retried once on a fresh session; a timeout is not', async () => {
    const f = factory();
    const pool = new SessionPool(f, { size: 1, ...FAST });
    let calls = 0;
    const result = await pool.run(async (s) => {
      if (calls++ === 0) {
        s.close();
        throw new TargetError('E_CONNECTION', 'reset');
      }
      return 'second';
    }, RUN);
    assert.equal(result, 'second');
    assert.equal(pool.stats().retried, 1);
    await assert.rejects(pool.run(() => new Promise(() => undefined), { ...RUN, deadlineMs: 20 }), (err: unknown) => err instanceof TargetError && err.code === 'E_TIMEOUT');
    assert.equal(pool.stats().timedOut, 1);
  });

  it('a session with work of its own finishes it before it idles', async () => {
    let settles = 0;
    const f = factory([], (s) => (s.settled++ === 0 ? ((settles++, Promise.resolve())) : undefined));
    const pool = new SessionPool(f, { size: 1, ...FAST });
    await pool.run(async () => 1, RUN);
    await new Promise((r) => setImmediate(r));
    assert.equal(settles, 1);
    assert.equal(pool.stats().idle, 1);
  });

  it('perSession: a session carries several operations, load spreads over sessions first, never more than size × perSession', async () => {
    const f = factory();
    const pool = new SessionPool(f, { size: 2, perSession: 3, ...FAST });
    const perSession = new Map<FakeSession, number>();
    let running = 0;
    let most = 0;
    let mostOnOne = 0;
    let gate!: () => void;
    const open = new Promise<void>((r) => (gate = r));
    const ops = Array.from({ length: 10 }, () =>
      pool.run(async (s) => {
        most = Math.max(most, ++running);
        const n = (perSession.get(s) ?? 0) + 1;
        perSession.set(s, n);
        mostOnOne = Math.max(mostOnOne, n);
        await open;
        await new Promise((r) => setTimeout(r, 2));
        perSession.set(s, perSession.get(s)! - 1);
        running--;
      }, RUN),
    );
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(f.opens, 2, 'both sessions opened before one is shared');
    const busy = pool.stats();
    assert.equal(busy.running, 6);
    assert.equal(busy.waiting, 4);
    assert.equal(busy.busy, 2);
    gate();
    await Promise.all(ops);
    assert.equal(most, 6);
    assert.equal(mostOnOne, 3);
    assert.equal(pool.stats().idle, 2);
    assert.equal(pool.stats().running, 0);
  });

  it('perSession: one operation opens one session; a second operation only shares it once the limit is reached', async () => {
    const f = factory();
    const pool = new SessionPool(f, { size: 1, perSession: 4, ...FAST });
    const sessions = new Set<FakeSession>();
    await Promise.all(Array.from({ length: 4 }, () => pool.run(async (s) => sessions.add(s), RUN)));
    assert.equal(f.opens, 1);
    assert.equal(sessions.size, 1);
  });

  it('perSession: a session that dies fails only what ran on it; idempotent work is retried on a new one, counted as a reconnect', async () => {
    const f = factory();
    const pool = new SessionPool(f, { size: 1, perSession: 4, ...FAST });
    let first: FakeSession | undefined;
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    const results = Promise.allSettled(
      Array.from({ length: 3 }, (_, i) =>
        pool.run(
          async (s) => {
            first ??= s;
            if (s !== first) return `fresh ${i}`;
            await hold;
            throw new TargetError('E_CONNECTION', 'reset');
          },
          { ...RUN, idempotent: i !== 2 },
        ),
      ),
    );
    await new Promise((r) => setTimeout(r, 5));
    first!.close();
    release();
    const settled = await results;
    assert.deepEqual(settled.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected']);
    assert.equal(f.opens, 2);
    const st = pool.stats();
    assert.equal(st.reconnects, 1);
    assert.equal(st.retried, 2);
    assert.equal(st.running, 0);
  });

  it('without a deadline an operation may take long (the session watches its own liveness)', async () => {
    const pool = new SessionPool(factory(), { size: 1, ...FAST });
    assert.equal(await pool.run(() => new Promise((r) => setTimeout(() => r('late'), 60)), { ...RUN, deadlineMs: undefined }), 'late');
    assert.equal(pool.stats().timedOut, 0);
  });

  it('when every open failed, operations waiting for a session fail with that error instead of waiting forever (no cool-down)', async () => {
    const down = new TargetError('E_CONNECTION', 'refused');
    const f = factory([down, down, down]);
    const pool = new SessionPool(f, { size: 1, ...FAST, coolDownMs: 0 });
    const all = await Promise.allSettled(Array.from({ length: 5 }, () => pool.run(async () => 1, RUN)));
    assert.ok(all.every((r) => r.status === 'rejected'));
    assert.equal(f.opens, 3);
    assert.equal(await pool.run(async () => 2, RUN), 2, 'no cool-down: the next call opens at once');
  });

  it('close() cuts an open in flight through its abort signal', async () => {
    let aborted = false;
    const pool = new SessionPool<FakeSession>(
      {
        what: 't',
        open: (abort) =>
          new Promise((_, reject) =>
            abort.addEventListener('abort', () => {
              aborted = true;
              reject(new TargetError('E_CONNECTION', 'cut'));
            }),
          ),
      },
      { size: 1, ...FAST },
    );
    const op = pool.run(async () => 1, RUN);
    await new Promise((r) => setTimeout(r, 5));
    await pool.close();
    await assert.rejects(op, /cut|closed/);
    assert.equal(aborted, true);
  });

  it('an open cut by close() is not a failure of the server, even when the pool was reset meanwhile', async () => {
    let calls = 0;
    const pool = new SessionPool<FakeSession>(
      {
        what: 't',
        open: (abort) =>
          calls++ === 0
            ? new Promise((_, reject) => abort.addEventListener('abort', () => setTimeout(() => reject(new TargetError('E_CONNECTION', 'cut')), 5)))
            : Promise.resolve(new FakeSession()),
      },
      { size: 2, ...FAST },
    );
    const first = pool.run(async () => 1, RUN);
    await new Promise((r) => setTimeout(r, 2));
    await pool.close();
    pool.reset(); // a reconnect, before the cut open has rejected
    assert.equal(await pool.run(async () => 2, RUN), 2);
    await assert.rejects(first);
    const st = pool.stats();
    assert.equal(st.openFailures, 0);
    assert.equal(st.limit, 2, 'not shrunk as if the server refused a session');
  });
});

