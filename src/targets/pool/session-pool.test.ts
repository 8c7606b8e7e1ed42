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
    assert.deepEqual({ ...pool.stats(), paused: pool.stats().paused }, { limit: 4, idle: 1, busy: 0, opening: 0, waiting: 0, opened: 1, openFailures: 0, retried: 0, timedOut: 0, paused: undefined });
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
});
