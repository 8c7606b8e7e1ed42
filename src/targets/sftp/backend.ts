/** The SFTP backend's declaration (see ../backend.ts). */
import { defineBackend } from '../backend.ts';
import { sftpOptions } from './options.ts';
import { createSftpTarget, SFTP_DEFAULTS } from './sftp-target.ts';

export const sftpBackend = defineBackend({
  name: 'SFTP',
  schemes: ['sftp', 'scp'],
  urlForm: 'sftp://user@host:port/path (scp:// is the same)',
  options: sftpOptions,
  defaults: { connections: SFTP_DEFAULTS.connections, timeoutMs: SFTP_DEFAULTS.timeoutMs },
  create: createSftpTarget,
});
