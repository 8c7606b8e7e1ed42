/**
 * The CAs a TLS target trusts: the system's roots, plus the PEM file of `ca:` when set. Node's
 * `ca` option replaces the default roots, and the setting means "also trust this CA", so the
 * roots are added back. Errors name the file and what is wrong, never a secret.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';

/** Undefined without `ca:` (Node's defaults); `fail` turns a message into the target's config error. */
export function trustedCas(caFile: string | undefined, fail: (message: string) => Error): string[] | undefined {
  if (caFile === undefined) return undefined;
  let pem: string;
  try {
    pem = readFileSync(caFile, 'utf8');
  } catch (err) {
    throw fail(`cannot read ca file ${caFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw fail(`ca file ${caFile} holds no PEM certificate`);
  return [...rootCertificates, pem];
}
