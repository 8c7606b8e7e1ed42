/**
 * rsync over SSH with the SFTP target's host-key rules (sftp/known-hosts.ts, reused): the
 * server's keys are fetched with ssh-keyscan, each judged by the same HostKeyPolicy (a pinned
 * `hostKey`, or `knownHosts`), and only the accepted ones are written to a known_hosts file
 * of our own that ssh is told to trust alone (StrictHostKeyChecking yes, no other file). An
 * unknown or changed key therefore fails closed at connect with the SFTP target's message,
 * and ssh itself refuses any key not written there (a key swapped after the scan included).
 */
import { TargetError } from '../errors.ts';
import { HostKeyPolicy, knownHostsName, parseKnownHosts } from '../sftp/known-hosts.ts';
import { SSH_KEYSCAN_BIN, type Runner } from './run.ts';

export interface AcceptedKeys {
  /** known_hosts text holding only the accepted keys. */
  readonly knownHosts: string;
  /** For ssh's HostKeyAlgorithms: the accepted key types (RSA as its SHA-2 signatures). */
  readonly algorithms: string[];
}

export async function acceptedHostKeys(runner: Runner, opts: { host: string; port: number; pin?: string; knownHostsFile?: string; timeoutMs: number }): Promise<AcceptedKeys> {
  const policy = new HostKeyPolicy({ host: opts.host, port: opts.port, ...(opts.pin !== undefined ? { pin: opts.pin } : {}), ...(opts.knownHostsFile !== undefined ? { knownHostsFile: opts.knownHostsFile } : {}) });
  policy.reload();
  const seconds = String(Math.max(1, Math.ceil(opts.timeoutMs / 1000)));
  const scan = await runner.run(SSH_KEYSCAN_BIN, ['-p', String(opts.port), '-T', seconds, opts.host]);
  const offered = parseKnownHosts(scan.stdout.toString('utf8'), 'ssh-keyscan');
  if (offered.length === 0) {
    const said = scan.stderr.toString('utf8').trim().split('\n').filter((l) => !l.startsWith('#')).join(' ').slice(0, 300);
    throw new TargetError('E_CONNECTION', `ssh ${opts.host}:${opts.port}: no host key could be read (server down or not SSH)${said ? `: ${said}` : ''}`);
  }
  const name = knownHostsName(opts.host, opts.port);
  const accepted = [];
  let refusal: TargetError | undefined;
  for (const line of offered) {
    const err = policy.verify(line.key);
    if (err === undefined) accepted.push(line);
    else if (refusal === undefined || /CHANGED|revoked|does not match/.test(err.message)) refusal = err;
  }
  // A changed or revoked key among the offered ones fails closed even when another is accepted.
  if (refusal !== undefined && (accepted.length === 0 || /CHANGED|revoked/.test(refusal.message))) throw refusal;
  return {
    knownHosts: accepted.map((l) => `${name} ${l.keyType} ${l.key.toString('base64')}\n`).join(''),
    algorithms: [...new Set(accepted.flatMap((l) => (l.keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256'] : [l.keyType])))],
  };
}
