/** The keys an FTP/FTPS target takes (see ../backend.ts). */
import { z } from 'zod';
import type { SpecOf } from '../backend.ts';
import { ca, connections, insecure, password, passwordFile, timeoutMs } from '../common-options.ts';

export const ftpOptions = {
  password,
  passwordFile,
  tls: { schema: z.enum(['none', 'explicit', 'implicit']), help: 'none | explicit (AUTH TLS; what ftps:// means) | implicit' },
  ca,
  insecure,
  connections,
  timeoutMs,
};
export type FtpSpec = SpecOf<typeof ftpOptions>;
