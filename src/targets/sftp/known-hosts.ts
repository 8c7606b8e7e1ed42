/**
 * Host key verification for SFTP, done by us because ssh2 accepts any host key unless a
 * `hostVerifier` is given (an unknown key fails closed).
 *
 * Two policies:
 *   - a pinned fingerprint (`hostKey: SHA256:…`): the offered key must have exactly that
 *     fingerprint; known_hosts is not consulted (the pin is the more specific statement);
 *   - OpenSSH known_hosts files (`knownHosts`, default ~/.ssh/known_hosts plus
 *     /etc/ssh/ssh_known_hosts): the offered key must be listed for the host.
 *
 * known_hosts as OpenSSH reads it (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"):
 *   [@revoked|@cert-authority] patterns keytype base64-blob [comment]
 * `patterns` is a comma-separated list of host names, `*`/`?` wildcards, `!negations`, and
 * hashed entries `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`. The name is `host` for port
 * 22 and `[host]:port` otherwise. Invalid lines are skipped, as OpenSSH does. Certificate
 * authorities are not supported (such lines are ignored, so a CA-signed host is "unknown").
 *
 * Everything here is pure (no I/O except `loadKnownHosts`) so it is table-tested.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { TargetError } from '../errors.ts';

export interface KnownHostLine {
  /** 1-based line number in its file, for messages. */
  readonly line: number;
  readonly file: string;
  readonly marker: 'revoked' | 'cert-authority' | undefined;
  /** The raw patterns field (hashed patterns stay hashed). */
  readonly patterns: readonly string[];
  /** Key type as written on the line, e.g. `ssh-ed25519`. */
  readonly keyType: string;
  /** The decoded public key blob (SSH wire format). */
  readonly key: Buffer;
}

/** `SHA256:` + unpadded base64 of the SHA-256 of the key blob (what `ssh-keygen -lf` prints). */
export function fingerprintSha256(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

/** The key type named inside an SSH public key blob (its first length-prefixed string). */
export function keyTypeOfBlob(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return undefined;
  return blob.toString('latin1', 4, 4 + len);
}

/** The name known_hosts files use for a host: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** Parse known_hosts text. Lines that do not parse are skipped (OpenSSH does the same). */
export function parseKnownHosts(text: string, file = 'known_hosts'): KnownHostLine[] {
  const out: KnownHostLine[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] ?? '').trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const fields = raw.split(/[ \t]+/);
    let marker: KnownHostLine['marker'];
    if (fields[0]?.startsWith('@')) {
      const m = fields.shift();
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else continue; // unknown marker: OpenSSH rejects the line
    }
    const [patternField, keyType, b64] = fields;
    if (patternField === undefined || keyType === undefined || b64 === undefined) continue;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) continue;
    const key = Buffer.from(b64, 'base64');
    // The blob names its own type; a line whose type field disagrees is corrupt.
    if (keyTypeOfBlob(key) !== keyType) continue;
    out.push({ line: i + 1, file, marker, patterns: patternField.split(','), keyType, key });
  }
  return out;
}

/** OpenSSH's `match_pattern`: `*` any run, `?` one character, everything else literal. */
function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    const c = pattern[p];
    if (c === '*') {
      starP = p++;
      starT = t;
    } else if (c !== undefined && (c === '?' || c === text[t])) {
      p++;
      t++;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/** Does one (non-negated) pattern name `name`? Handles hashed `|1|salt|hmac` entries. */
function patternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const parts = pattern.split('|');
    if (parts.length !== 4 || parts[2] === undefined || parts[3] === undefined) return false;
    const salt = Buffer.from(parts[2], 'base64');
    const want = Buffer.from(parts[3], 'base64');
    const got = createHmac('sha1', salt).update(name).digest();
    return want.length === got.length && timingSafeEqual(want, got);
  }
  return globMatch(pattern.toLowerCase(), name);
}

/**
 * OpenSSH's `match_hostname`: a line applies when some positive pattern matches and no
 * negated pattern (`!pat`) does.
 */
export function lineMatchesHost(line: Pick<KnownHostLine, 'patterns'>, name: string): boolean {
  let positive = false;
  for (const pattern of line.patterns) {
    if (pattern.startsWith('!')) {
      if (patternMatches(pattern.slice(1), name)) return false;
    } else if (!positive && patternMatches(pattern, name)) {
      positive = true;
    }
  }
  return positive;
}

export type HostKeyVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'unknown' | 'changed' | 'revoked'; readonly lines: readonly KnownHostLine[] };

/** Judge an offered key blob against parsed known_hosts lines for a host name. */
export function checkKnownHosts(lines: readonly KnownHostLine[], name: string, offered: Buffer): HostKeyVerdict {
  const forHost = lines.filter((l) => l.marker !== 'cert-authority' && lineMatchesHost(l, name));
  const revoked = forHost.filter((l) => l.marker === 'revoked' && l.key.equals(offered));
  if (revoked.length > 0) return { ok: false, reason: 'revoked', lines: revoked };
  const plain = forHost.filter((l) => l.marker === undefined);
  if (plain.some((l) => l.key.equals(offered))) return { ok: true };
  const type = keyTypeOfBlob(offered);
  const sameType = plain.filter((l) => l.keyType === type);
  if (sameType.length > 0) return { ok: false, reason: 'changed', lines: sameType };
  return { ok: false, reason: 'unknown', lines: plain };
}

/** The known_hosts key types listed for a host (to prefer those host key algorithms). */
export function knownKeyTypes(lines: readonly KnownHostLine[], name: string): string[] {
  const types = new Set<string>();
  for (const l of lines) if (l.marker === undefined && lineMatchesHost(l, name)) types.add(l.keyType);
  return [...types];
}

/** Normalise a pinned fingerprint; only SHA256 ones are accepted (MD5 is not a pin). */
export function normalizePin(pin: string): string {
  const trimmed = pin.trim().replace(/=+$/, '');
  const m = /^SHA256:([A-Za-z0-9+/]{43})$/i.exec(trimmed);
  if (!m || m[1] === undefined) {
    throw new TargetError('E_CONFIG', `hostKey ${JSON.stringify(pin)} is not a SHA256 fingerprint: write it as printed by \`ssh-keygen -lf <host key>.pub\`, e.g. SHA256:AbC…(43 characters)`);
  }
  return 'SHA256:' + m[1];
}

/** Files consulted when `knownHosts` is not set: the user's, then the system-wide one. */
export function defaultKnownHostsFiles(): string[] {
  return [join(homedir(), '.ssh', 'known_hosts'), '/etc/ssh/ssh_known_hosts'];
}

/**
 * Read known_hosts files. A missing file is empty (fail closed later, with the fingerprint);
 * an explicitly configured file that cannot be read is a configuration error.
 */
export function loadKnownHosts(files: readonly string[], explicit: boolean): KnownHostLine[] {
  const out: KnownHostLine[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      if (explicit) throw new TargetError('E_CONFIG', `cannot read knownHosts ${file} (${code}): check the path, or pin the key with hostKey: SHA256:…`);
      continue;
    }
    out.push(...parseKnownHosts(text, file));
  }
  return out;
}

export interface HostKeyPolicyOptions {
  readonly host: string;
  readonly port: number;
  /** `hostKey` from the spec (pin), if any. */
  readonly pin?: string;
  /** `knownHosts` from the spec, if any. */
  readonly knownHostsFile?: string;
}

/**
 * The verifier one target uses for every connection. `verify` is called from ssh2's
 * `hostVerifier` with the raw key blob; on refusal `lastRefusal` holds the E_HOST_KEY error
 * to surface (ssh2 itself only says "Host denied").
 */
export class HostKeyPolicy {
  readonly name: string;
  private readonly pin: string | undefined;
  private readonly files: readonly string[];
  private readonly explicitFile: boolean;
  private lines: KnownHostLine[] | undefined;

  constructor(private readonly opts: HostKeyPolicyOptions) {
    this.name = knownHostsName(opts.host, opts.port);
    this.pin = opts.pin === undefined ? undefined : normalizePin(opts.pin);
    this.explicitFile = opts.knownHostsFile !== undefined;
    this.files = opts.knownHostsFile !== undefined ? [opts.knownHostsFile] : defaultKnownHostsFiles();
  }

  /** Re-read the files (called on each explicit connect, so an operator's fix is seen). */
  reload(): void {
    this.lines = this.pin === undefined ? loadKnownHosts(this.files, this.explicitFile) : [];
  }

  private known(): KnownHostLine[] {
    if (this.lines === undefined) this.reload();
    return this.lines ?? [];
  }

  /** Key types to put first in the host key algorithm list (OpenSSH does the same). */
  preferredKeyTypes(): string[] {
    return this.pin === undefined ? knownKeyTypes(this.known(), this.name) : [];
  }

  /** Returns undefined when the key is accepted, else the error to report. */
  verify(keyBlob: Buffer): TargetError | undefined {
    const fp = fingerprintSha256(keyBlob);
    const type = keyTypeOfBlob(keyBlob) ?? 'unknown-type';
    const offered = `the server offered ${type} ${fp}`;
    const pinHint = `If that is the server's key (check on the server with \`ssh-keygen -lf /etc/ssh/ssh_host_${type.replace(/^ssh-|-.*$/g, '')}_key.pub\`), pin it with \`hostKey: ${fp}\``;
    if (this.pin !== undefined) {
      if (fp === this.pin) return undefined;
      return new TargetError('E_HOST_KEY', `host key of ${this.name} does not match the pinned hostKey ${this.pin}: ${offered}. Nothing was sent. ${pinHint} if the server's key really changed.`);
    }
    const verdict = checkKnownHosts(this.known(), this.name, keyBlob);
    if (verdict.ok) return undefined;
    const where = this.files.join(' or ');
    const at = (ls: readonly KnownHostLine[]) => ls.map((l) => `${l.file}:${l.line}`).join(', ');
    switch (verdict.reason) {
      case 'revoked':
        return new TargetError('E_HOST_KEY', `host key of ${this.name} is marked @revoked (${at(verdict.lines)}): ${offered}. Nothing was sent.`);
      case 'changed':
        return new TargetError(
          'E_HOST_KEY',
          `HOST KEY CHANGED for ${this.name}: ${at(verdict.lines)} holds a different ${type} key, ${offered}. ` +
            `This may be a man-in-the-middle attack; nothing was sent. If the server was reinstalled, remove the old entry ` +
            `(\`ssh-keygen -R '${this.name}'\`) and add the new key, or ${pinHint.replace(/^If/, 'if')}.`,
        );
      case 'unknown':
        return new TargetError(
          'E_HOST_KEY',
          `host key of ${this.name} is unknown (not in ${where}${verdict.lines.length > 0 ? `; only ${[...new Set(verdict.lines.map((l) => l.keyType))].join(', ')} keys are listed` : ''}): ${offered}. ` +
            `Nothing was sent. ${pinHint}, or add it with \`ssh-keyscan -p ${this.opts.port} ${this.opts.host} >> ${this.files[0] ?? '~/.ssh/known_hosts'}\` after checking it.`,
        );
    }
  }
}
