/** The FTP/FTPS backend's declaration (see ../backend.ts). */
import { defineBackend } from '../backend.ts';
import { createFtpTarget } from './ftp-target.ts';
import { DEFAULT_CONNECTIONS, DEFAULT_TIMEOUT_MS } from './ftp-settings.ts';
import { ftpOptions } from './options.ts';

export const ftpBackend = defineBackend({
  name: 'FTP/FTPS',
  schemes: ['ftp', 'ftps'],
  urlForm: 'ftp://user@host:port/path, ftps://…',
  options: ftpOptions,
  defaults: { connections: DEFAULT_CONNECTIONS, timeoutMs: DEFAULT_TIMEOUT_MS },
  create: (spec, url) => createFtpTarget(spec, url),
});
