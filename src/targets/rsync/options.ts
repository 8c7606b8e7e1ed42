/**
 * The keys an rsync target takes (see ../backend.ts). The SSH keys are the SFTP target's own
 * declarations (one key, one meaning): the same host-key rules apply.
 */
import { z } from 'zod';
import type { SpecOf } from '../backend.ts';
import { password, passwordFile, timeoutMs } from '../common-options.ts';
import { sftpOptions } from '../sftp/options.ts';

export const rsyncOptions = {
  password,
  passwordFile,
  identityFile: sftpOptions.identityFile,
  knownHosts: sftpOptions.knownHosts,
  hostKey: sftpOptions.hostKey,
  timeoutMs,
  shell: {
    schema: z.boolean(),
    help: 'rsync+ssh: the account may run a command (renames as one remote mv); false: renames are sent as a copy and a delete',
  },
} as const;
export type RsyncSpec = SpecOf<typeof rsyncOptions>;
