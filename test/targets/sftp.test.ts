/**
 * SFTP target specifics: host key verification (known_hosts, hashed entries, pins), logins
 * (password, key with passphrase), secrets kept out of errors, and recovery when the server
 * dies or hangs. Runs against a private sshd (test/servers/sshd.ts); the known_hosts parser
 * is table-tested without a server.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { TargetError } from '../../src/targets/errors.ts';
import { createTarget } from '../../src/targets/registry.ts';
import type { TargetSpec } from '../../src/targets/spec.ts';
import type { PutSource, Target } from '../../src/targets/target.ts';
import {
  checkKnownHosts,
  fingerprintSha256,
  knownHostsName,
  lineMatchesHost,
  normalizePin,
  parseKnownHosts,
} from '../../src/targets/sftp/known-hosts.ts';
import { bufferSource } from '../conformance/suite.ts';
import { KEY_PASSPHRASE, SSH_KEYGEN, startSshd, type SshdServer } from '../servers/sshd.ts';
import { capabilitiesOf } from '../../src/targets/capabilities.ts';
import { expectCode } from '../helpers/expect-code.ts';

// Two fixed public keys (blobs are what matter; these were made with ssh-keygen -t ed25519).
const KEY_A = 'AAAAC3NzaC1lZDI1NTE5AAAAICova+ago5rluHEyKLhYBH9sKfH91x4ikRoan6S8GpQS';
const KEY_B = 'AAAAC3NzaC1lZDI1NTE5AAAAIGWhONevZiHEBXBGI248vol7HvYJ95wU4hlUljMZ0QIo';
const blob = (b64: string) => Buffer.from(b64, 'base64');

function hashedPattern(name: string, salt = randomBytes(20)): string {
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

describe('known_hosts parsing and matching', () => {
  const cases: Array<{ name: string; text: string; host: string; port: number; key: string; want: 'ok' | 'unknown' | 'changed' | 'revoked' }> = [
    { name: 'plain host, port 22', text: `example.com ssh-ed25519 ${KEY_A}`, host: 'example.com', port: 22, key: KEY_A, want: 'ok' },
    { name: 'host names are case-insensitive', text: `Example.COM ssh-ed25519 ${KEY_A}`, host: 'example.com', port: 22, key: KEY_A, want: 'ok' },
    { name: 'plain entry does not cover another port', text: `example.com ssh-ed25519 ${KEY_A}`, host: 'example.com', port: 2222, key: KEY_A, want: 'unknown' },
    { name: '[host]:port entry', text: `[example.com]:2222 ssh-ed25519 ${KEY_A}`, host: 'example.com', port: 2222, key: KEY_A, want: 'ok' },
    { name: 'comma list of names', text: `web,example.com,10.0.0.1 ssh-ed25519 ${KEY_A}`, host: '10.0.0.1', port: 22, key: KEY_A, want: 'ok' },
    { name: 'hashed entry', text: `${hashedPattern('example.com')} ssh-ed25519 ${KEY_A}`, host: 'example.com', port: 22, key: KEY_A, want: 'ok' },
    { name: 'hashed [host]:port entry', text: `${hashedPattern('[127.0.0.1]:4022')} ssh-ed25519 ${KEY_A}`, host: '127.0.0.1', port: 4022, key: KEY_A, want: 'ok' },
    { name: 'hashed entry for another host', text: `${hashedPattern('other.com')} ssh-ed25519 ${KEY_A}`, host: 'example.com', port: 22, key: KEY_A, want: 'unknown' },
    { name: 'wildcard', text: `*.example.com ssh-ed25519 ${KEY_A}`, host: 'web.example.com', port: 22, key: KEY_A, want: 'ok' },
    { name: '? wildcard', text: `web?.example.com ssh-ed25519 ${KEY_A}`, host: 'web1.example.com', port: 22, key: KEY_A, want: 'ok' },
    { name: 'negation wins', text: `*.example.com,!bad.example.com ssh-ed25519 ${KEY_A}`, host: 'bad.example.com', port: 22, key: KEY_A, want: 'unknown' },
    { name: 'same type, other key: changed', text: `example.com ssh-ed25519 ${KEY_B}`, host: 'example.com', port: 22, key: KEY_A, want: 'changed' },
    { name: 'second line matches', text: `example.com ssh-ed25519 ${KEY_B}\nexample.com ssh-ed25519 ${KEY_A}`, host: 'example.com', port: 22, key: KEY_A, want: 'ok' },
    { name: '@revoked key is refused', text: `@revoked * ssh-ed25519 ${KEY_A}\nexample.com ssh-ed25519 ${KEY_A}`, host: 'example.com', port: 22, key: KEY_A, want: 'revoked' },
    { name: '@cert-authority lines are ignored', text: `@cert-authority *.example.com ssh-ed25519 ${KEY_A}`, host: 'web.example.com', port: 22, key: KEY_A, want: 'unknown' },
    { name: 'comments, blanks and trailing comments', text: `# a comment\n\n   \nexample.com ssh-ed25519 ${KEY_A} user@box`, host: 'example.com', port: 22, key: KEY_A, want: 'ok' },
    { name: 'type field disagreeing with the blob: line skipped', text: `example.com ssh-rsa ${KEY_A}`, host: 'example.com', port: 22, key: KEY_A, want: 'unknown' },
    { name: 'bad base64: line skipped', text: `example.com ssh-ed25519 !!!notbase64`, host: 'example.com', port: 22, key: KEY_A, want: 'unknown' },
    { name: 'CRLF line ends', text: `example.com ssh-ed25519 ${KEY_A}\r\n`, host: 'example.com', port: 22, key: KEY_A, want: 'ok' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const verdict = checkKnownHosts(parseKnownHosts(c.text), knownHostsName(c.host, c.port), blob(c.key));
      assert.equal(verdict.ok ? 'ok' : verdict.reason, c.want);
    });
  }

  it('host names: [host]:port only for non-22 ports', () => {
    assert.equal(knownHostsName('Example.com', 22), 'example.com');
    assert.equal(knownHostsName('127.0.0.1', 2222), '[127.0.0.1]:2222');
  });

  it('a wildcard does not match across the [host]:port form unless written so', () => {
    assert.equal(lineMatchesHost({ patterns: ['*'] }, '[h]:2222'), true);
    assert.equal(lineMatchesHost({ patterns: ['h'] }, '[h]:2222'), false);
    assert.equal(lineMatchesHost({ patterns: ['[h]:*'] }, '[h]:2222'), true);
  });

  it('SHA256 fingerprint is unpadded base64, as ssh-keygen -lf prints it', (ctx) => {
    const fp = fingerprintSha256(blob(KEY_A));
    assert.match(fp, /^SHA256:[A-Za-z0-9+/]{43}$/);
    if (!existsSync(SSH_KEYGEN)) return ctx.skip('ssh-keygen not installed');
    const dir = mkdtempSync(join(tmpdir(), 'si-fp-'));
    try {
      writeFileSync(join(dir, 'k.pub'), `ssh-ed25519 ${KEY_A} x\n`);
      const out = execFileSync(SSH_KEYGEN, ['-l', '-E', 'sha256', '-f', join(dir, 'k.pub')], { encoding: 'utf8' });
      assert.equal(out.split(' ')[1], fp);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('pins: SHA256 with or without padding; MD5 and junk refused', () => {
    const fp = fingerprintSha256(blob(KEY_A));
    assert.equal(normalizePin(fp), fp);
    assert.equal(normalizePin(`${fp}=`), fp);
    assert.equal(normalizePin(`  ${fp}\n`), fp);
    assert.throws(() => normalizePin('MD5:12:34:56'), (e: unknown) => e instanceof TargetError && e.code === 'E_CONFIG');
    assert.throws(() => normalizePin('SHA256:short'), (e: unknown) => e instanceof TargetError && e.code === 'E_CONFIG');
  });
});

describe('sftp target against OpenSSH sshd', () => {
  let sshd: SshdServer | undefined;
  const scratch: string[] = [];
  const targets: Target[] = [];
  let savedAgent: string | undefined;

  before(async () => {
    // Keep the tests independent of a developer's agent: only the configured credentials count.
    savedAgent = process.env['SSH_AUTH_SOCK'];
    delete process.env['SSH_AUTH_SOCK'];
    sshd = await startSshd();
  });
  after(async () => {
    for (const t of targets) await t.close().catch(() => undefined);
    await sshd?.cleanup();
    for (const d of scratch) rmSync(d, { recursive: true, force: true });
    if (savedAgent !== undefined) process.env['SSH_AUTH_SOCK'] = savedAgent;
  });

  const tempDir = (mode = 0o755): string => {
    const d = mkdtempSync(join(tmpdir(), 'si-sftp-'));
    chmodSync(d, mode);
    scratch.push(d);
    return d;
  };
  const make = (s: SshdServer, root: string, extra: Partial<TargetSpec> = {}, user = s.user): Target => {
    const t = createTarget({ url: `sftp://${user}@127.0.0.1:${s.port}${root}`, identityFile: s.clientKey, knownHosts: s.knownHosts, ...extra });
    targets.push(t);
    return t;
  };
  const test = (name: string, body: (s: SshdServer) => Promise<void>) =>
    it(name, async (ctx) => {
      if (!sshd) return ctx.skip('sshd not available');
      await body(sshd);
    });

  test('a known_hosts with a different key: E_HOST_KEY with the offered fingerprint, nothing written', async (s) => {
    const other = join(tempDir(), 'other');
    execFileSync(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const kh = join(tempDir(), 'known_hosts');
    writeFileSync(kh, `[127.0.0.1]:${s.port} ${readFileSync(`${other}.pub`, 'utf8')}`);
    const root = join(tempDir(), 'not-created');
    const t = make(s, root, { knownHosts: kh });
    const err = await expectCode(t.connect(), 'E_HOST_KEY');
    assert.match(err.message, /CHANGED/);
    assert.ok(err.message.includes(s.hostKeyFingerprint), err.message);
    assert.ok(err.message.includes(`hostKey: ${s.hostKeyFingerprint}`), err.message);
    assert.equal(existsSync(root), false, 'the root must not be created');
    // Later operations fail the same way without logging in again.
    await expectCode(t.put('x', bufferSource('x'), { tempPath: '.x.tmp' }), 'E_HOST_KEY');
    assert.equal(existsSync(root), false);
    assert.equal(err.scope, 'pause');
  });

  test('the root may be a link the operator set up; a link planted below it is still refused', async (s) => {
    const real = tempDir();
    const link = join(tempDir(), 'root-link');
    symlinkSync(real, link);
    const t = make(s, link);
    await t.connect();
    await t.mkdir('a');
    await t.put('a/f', bufferSource('through the root link'), { tempPath: 'a/.f.tmp' });
    assert.equal(readFileSync(join(real, 'a/f'), 'utf8'), 'through the root link');
    assert.deepEqual((await t.list('a')).map((e) => e.path), ['a/f']);
    const outside = tempDir();
    symlinkSync(outside, join(real, 'b'));
    await expectCode(t.put('b/f', bufferSource('escaped?'), { tempPath: 'b/.f.tmp' }), 'E_LINK_IN_PATH');
    assert.deepEqual(readdirSync(outside), []);
  });

  test('an unknown host (empty known_hosts) fails closed with a pin hint', async (s) => {
    const kh = join(tempDir(), 'known_hosts');
    writeFileSync(kh, '');
    const err = await expectCode(make(s, tempDir(), { knownHosts: kh }).connect(), 'E_HOST_KEY');
    assert.match(err.message, /unknown/);
    assert.ok(err.message.includes(`hostKey: ${s.hostKeyFingerprint}`), err.message);
  });

  test('a pinned fingerprint is enough (no known_hosts entry); a wrong pin is refused', async (s) => {
    const kh = join(tempDir(), 'known_hosts');
    writeFileSync(kh, '');
    const root = tempDir();
    const t = make(s, root, { knownHosts: kh, hostKey: s.hostKeyFingerprint });
    await t.connect();
    await t.put('pinned', bufferSource('ok'), { tempPath: '.pinned.tmp' });
    assert.equal(readFileSync(join(root, 'pinned'), 'utf8'), 'ok');
    const wrong = fingerprintSha256(blob(KEY_A));
    const err = await expectCode(make(s, tempDir(), { hostKey: wrong }).connect(), 'E_HOST_KEY');
    assert.ok(err.message.includes(s.hostKeyFingerprint), err.message);
  });

  test('a hashed known_hosts entry (ssh-keygen -H) works', async (s) => {
    const kh = join(tempDir(), 'known_hosts');
    writeFileSync(kh, readFileSync(s.knownHosts));
    execFileSync(SSH_KEYGEN, ['-H', '-f', kh], { stdio: 'pipe' });
    const text = readFileSync(kh, 'utf8');
    assert.match(text, /^\|1\|/, 'ssh-keygen should have hashed the entry');
    const root = tempDir();
    const t = make(s, root, { knownHosts: kh });
    await t.connect();
    await t.mkdir('hashed');
    assert.ok(existsSync(join(root, 'hashed')));
  });

  test('wrong password: E_AUTH, and the password appears nowhere in the error', async (s) => {
    const pw = s.passwordUser;
    if (pw === undefined) return; // not root: sshd cannot check passwords (see sshd.ts)
    const secret = 'Wr0ng-pa55word-ZX81';
    const t = createTarget({ url: `sftp://${pw.name}:${encodeURIComponent(secret)}@127.0.0.1:${s.port}/tmp`, knownHosts: s.knownHosts });
    targets.push(t);
    assert.ok(!t.displayName.includes(secret), t.displayName);
    const err = await expectCode(t.connect(), 'E_AUTH');
    const everything = [err.message, err.stack ?? '', String(err.cause), JSON.stringify(err)].join('\n');
    assert.ok(!everything.includes(secret), `password leaked: ${everything}`);
    assert.equal(err.scope, 'pause');
    assert.match(err.message, /tried password/);
    // No retry loop: the next operation fails at once with the remembered refusal.
    const before = (s.log().match(/Failed password/g) ?? []).length;
    await expectCode(t.stat(''), 'E_AUTH');
    assert.equal((s.log().match(/Failed password/g) ?? []).length, before);
  });

  test('right password works (password from passwordFile)', async (s) => {
    const pw = s.passwordUser;
    if (pw === undefined) return;
    const root = tempDir(0o777);
    const file = join(tempDir(), 'pass');
    writeFileSync(file, `${pw.password}\n`);
    const t = createTarget({ url: `sftp://${pw.name}@127.0.0.1:${s.port}${root}`, passwordFile: file, knownHosts: s.knownHosts });
    targets.push(t);
    await t.connect();
    await t.put('by-password', bufferSource('pw'), { tempPath: '.bp.tmp' });
    assert.equal(readFileSync(join(root, 'by-password'), 'utf8'), 'pw');
  });

  test('a key with a passphrase works; a wrong or missing passphrase is refused without leaking it', async (s) => {
    const root = tempDir();
    const t = make(s, root, { identityFile: s.passphraseKey, passphrase: KEY_PASSPHRASE });
    await t.connect();
    await t.put('by-key', bufferSource('k'), { tempPath: '.bk.tmp' });
    assert.equal(readFileSync(join(root, 'by-key'), 'utf8'), 'k');
    const wrong = 'not-the-passphrase-123';
    const err = await expectCode(make(s, tempDir(), { identityFile: s.passphraseKey, passphrase: wrong }).connect(), 'E_AUTH');
    assert.ok(!err.message.includes(wrong) && !(err.stack ?? '').includes(wrong));
    await expectCode(make(s, tempDir(), { identityFile: s.passphraseKey }).connect(), 'E_CONFIG');
  });

  test('a key the server does not accept: E_AUTH naming what was tried', async (s) => {
    const stranger = join(tempDir(), 'stranger');
    execFileSync(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
    const err = await expectCode(make(s, tempDir(), { identityFile: stranger }).connect(), 'E_AUTH');
    assert.ok(err.message.includes(stranger), err.message);
  });

  test('settings that make no sense for SFTP are rejected by name', async (s) => {
    assert.throws(() => createTarget({ url: `sftp://u@127.0.0.1:${s.port}/tmp`, tls: 'explicit' }), (e: unknown) => e instanceof TargetError && e.code === 'E_CONFIG' && /"tls"/.test(e.message));
    assert.throws(() => createTarget({ url: `sftp://u@127.0.0.1:${s.port}/tmp`, hostKey: 'MD5:aa:bb' }), (e: unknown) => e instanceof TargetError && e.code === 'E_CONFIG');
    assert.throws(() => createTarget({ url: `sftp://u@127.0.0.1:${s.port}/tmp`, connections: 0 }), (e: unknown) => e instanceof TargetError && e.code === 'E_CONFIG');
    // scp:// is an alias (the transfer is SFTP either way); an inline password never shows.
    const alias = createTarget({ url: `scp://u:hunter2@127.0.0.1:${s.port}/srv/x`, hostKey: s.hostKeyFingerprint });
    assert.equal(alias.displayName, `scp://u@127.0.0.1:${s.port}/srv/x`);
    assert.equal(capabilitiesOf(alias).rename, true);
  });

  test('sshd stopped mid-way (also during a big upload) and restarted: the target reconnects', async (s) => {
    const root = tempDir();
    const t = make(s, root, { connections: 2, timeoutMs: 5_000 });
    await t.connect();
    await t.put('before', bufferSource('1'), { tempPath: '.before.tmp' });

    // Kill the server while a 64 MiB upload is on the wire: the put fails as a transient error
    // and no half file appears under the final name.
    // A slow source (1 MiB every 10 ms) so the server surely dies mid-transfer.
    const chunk = Buffer.alloc(1024 * 1024, 7);
    const slow: PutSource = {
      size: 100 * chunk.length,
      mtimeMs: Date.now(),
      open: () =>
        Readable.from(
          (async function* () {
            for (let i = 0; i < 100; i++) {
              await new Promise((r) => setTimeout(r, 10));
              yield chunk;
            }
          })(),
        ),
    };
    const upload = t.put('big', slow, { tempPath: '.big.tmp' });
    upload.catch(() => undefined); // it rejects while the server is being stopped; checked below
    await new Promise((r) => setTimeout(r, 150));
    await s.stop();
    try {
      await assert.rejects(upload, (err: unknown) => {
        assert.ok(err instanceof TargetError && err.scope === 'transient', `expected a transient error, got ${String(err)}`);
        return true;
      });
      assert.equal(existsSync(join(root, 'big')), false, 'no half file under the final name');
      // While it is down: a clear transient connection error, not a hang.
      await assert.rejects(t.stat('before'), (err: unknown) => err instanceof TargetError && err.code === 'E_CONNECTION');
    } finally {
      await s.start();
    }
    // The next use reconnects (after at most a short backoff) and works.
    await t.put('after', bufferSource('2'), { tempPath: '.after.tmp' });
    assert.equal(readFileSync(join(root, 'after'), 'utf8'), '2');
    assert.equal((await t.stat('before'))?.size, 1);
    // The pool counts what happened, for `status` and metrics.
    const pool = t.poolStats?.();
    assert.ok(pool !== undefined && pool.reconnects >= 1 && pool.openFailures >= 1, JSON.stringify(pool));
    const leftovers = readdirSync(root).filter((n) => n.endsWith('.tmp'));
    assert.ok(leftovers.length <= 1, `temp files left: ${leftovers.join(', ')}`);
  });

  test('a hung server: requests time out (E_TIMEOUT), the connection is dropped, later calls reconnect', async (s) => {
    const root = tempDir();
    const t = make(s, root, { connections: 1, timeoutMs: 800 });
    await t.connect();
    await t.put('f', bufferSource('f'), { tempPath: '.f.tmp' });
    s.freezeSessions();
    const started = Date.now();
    try {
      await expectCode(t.stat('f'), 'E_TIMEOUT');
      assert.ok(Date.now() - started < 3_000, 'the deadline should fire promptly');
    } finally {
      s.thawSessions();
    }
    assert.equal((await t.stat('f'))?.kind, 'file');
  });
});
