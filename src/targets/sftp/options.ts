/** The keys an SFTP target takes (see ../backend.ts). */
import { z } from 'zod';
import type { SpecOf } from '../backend.ts';
import { connections, password, passwordFile, timeoutMs } from '../common-options.ts';

export const sftpOptions = {
  password,
  passwordFile,
  identityFile: { schema: z.string(), help: 'private key file', path: true },
  passphrase: { schema: z.string(), help: "the private key's passphrase", secret: 'value' },
  passphraseFile: { schema: z.string(), help: "file holding the private key's passphrase", secret: 'file', path: true },
  knownHosts: { schema: z.string(), help: 'known_hosts file (default ~/.ssh/known_hosts)', path: true },
  hostKey: {
    schema: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, 'must look like SHA256:<43 base64 characters> (ssh-keygen -lf)'),
    help: "the server's pinned host key fingerprint, SHA256:…",
  },
  connections,
  timeoutMs,
} as const;
export type SftpSpec = SpecOf<typeof sftpOptions>;
