/**
 * How an SFTP target logs in and which host keys it accepts, as an ssh2 connect config.
 *
 * Security: the host key is always checked (known_hosts or a pinned `hostKey`,
 * see known-hosts.ts) before anything is sent; an unknown or changed key is E_HOST_KEY.
 * Credentials, tried in this order: `identityFile` (+ `passphrase`/`passphraseFile`), the
 * ssh-agent at SSH_AUTH_SOCK, the default ~/.ssh/id_{ed25519,ecdsa,rsa} when no identityFile
 * is set, then the password (`password`, `passwordFile`, URL, SYNC_INOTIFY_PASSWORD).
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { AnyAuthMethod, ConnectConfig, ParsedKey, ServerHostKeyAlgorithm } from 'ssh2';
import { TargetError } from '../errors.ts';
import { resolvePassphrase, resolvePassword } from '../secrets.ts';
import type { HostKeyPolicy } from './known-hosts.ts';
import type { SftpTargetOptions } from './sftp-settings.ts';
import { ssh2 } from './ssh2-module.ts';

/** The order ssh2 offers host key algorithms in by default (Node 20 has Ed25519). */
const DEFAULT_HOST_KEY_ALGOS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
const ALGOS_FOR_KEY_TYPE: Record<string, string[]> = { 'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] };

export interface Credentials {
  readonly methods: AnyAuthMethod[];
  /** What was tried, for the E_AUTH message (never the secret itself). */
  readonly summary: string;
}

/**
 * The ssh2 config for one connection attempt. A host key the policy refuses is stored in
 * `refusal.error` (ssh2 itself only says "Host denied").
 */
export function sshConfig(o: SftpTargetOptions, policy: HostKeyPolicy, creds: Credentials, refusal: { error?: TargetError }): ConnectConfig {
  const preferred = policy.preferredKeyTypes().flatMap((t) => ALGOS_FOR_KEY_TYPE[t] ?? [t]);
  const hostKeyAlgos = [...new Set([...preferred.filter((a) => DEFAULT_HOST_KEY_ALGOS.includes(a)), ...DEFAULT_HOST_KEY_ALGOS])];
  return {
    host: o.host,
    port: o.port,
    username: o.username,
    authHandler: creds.methods,
    // ssh2 accepts any key without this. Returning false aborts before authentication.
    hostVerifier: (key: Buffer) => {
      const error = policy.verify(key);
      if (error !== undefined) refusal.error = error;
      return error === undefined;
    },
    algorithms: { serverHostKey: hostKeyAlgos as ServerHostKeyAlgorithm[] },
    readyTimeout: o.timeoutMs,
    // Detect a dead peer on an idle pool (a reset while idle surfaces as 'close').
    keepaliveInterval: 15_000,
    keepaliveCountMax: 3,
  };
}

/** Build the list of login methods; reads key files (and secrets). */
export function loadCredentials(o: SftpTargetOptions, displayName: string): Credentials {
  const { spec } = o;
  const username = o.username;
  const methods: AnyAuthMethod[] = [];
  const tried: string[] = [];
  const passphrase = resolvePassphrase(spec);
  if (spec.identityFile !== undefined) {
    methods.push({ type: 'publickey', username, key: parsePrivateKey(spec.identityFile, passphrase, true) });
    tried.push(`publickey (${spec.identityFile})`);
  }
  const agent = process.env['SSH_AUTH_SOCK'];
  if (agent !== undefined && agent !== '') {
    methods.push({ type: 'agent', username, agent });
    tried.push('ssh-agent');
  }
  if (spec.identityFile === undefined) {
    for (const name of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
      const file = join(homedir(), '.ssh', name);
      let key: ParsedKey | undefined;
      try {
        key = parsePrivateKey(file, passphrase, false);
      } catch {
        key = undefined; // a default key we cannot use is simply not offered
      }
      if (key !== undefined) {
        methods.push({ type: 'publickey', username, key });
        tried.push(`publickey (${file})`);
      }
    }
  }
  const password = resolvePassword(spec, o.url);
  if (password !== undefined) {
    methods.push({ type: 'password', username, password });
    tried.push('password');
  }
  if (methods.length === 0) {
    throw new TargetError('E_CONFIG', `${displayName}: no credentials: set identityFile, run an ssh-agent (SSH_AUTH_SOCK), or set password/passwordFile`);
  }
  return { methods, summary: `as ${username}, tried ${tried.join(', ')}` };
}

/** Parse a private key file; a missing or unusable key is an error only when asked for explicitly. */
function parsePrivateKey(file: string, passphrase: string | undefined, explicit: boolean): ParsedKey {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new TargetError('E_CONFIG', `cannot read identityFile ${file} (${code}): check the path and its permissions`);
  }
  const parsed = ssh2().utils.parseKey(data, passphrase);
  const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey | Error | undefined) : parsed;
  if (key === undefined || key instanceof Error) {
    const why = key instanceof Error ? key.message : 'no key found';
    if (/no passphrase given/i.test(why)) {
      throw new TargetError('E_CONFIG', `identityFile ${file} is encrypted: set passphrase or passphraseFile`);
    }
    if (/passphrase|decrypt|bad/i.test(why) && passphrase !== undefined) {
      throw new TargetError('E_AUTH', `identityFile ${file} could not be decrypted: the passphrase is wrong`);
    }
    throw new TargetError(explicit ? 'E_CONFIG' : 'E_AUTH', `identityFile ${file} is not a usable private key (${why})`);
  }
  if (!key.isPrivateKey()) throw new TargetError('E_CONFIG', `identityFile ${file} holds a public key: point it at the private key file`);
  return key;
}
