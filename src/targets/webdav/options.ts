/** The keys a WebDAV target takes (see ../backend.ts). */
import { z } from 'zod';
import type { SpecOf } from '../backend.ts';
import { ca, connections, insecure, password, passwordFile, timeoutMs } from '../common-options.ts';

export const webdavOptions = {
  password,
  passwordFile,
  ca,
  insecure,
  connections,
  timeoutMs,
  headers: {
    schema: z.record(z.string(), z.string()),
    help: 'extra request headers, e.g. Authorization: Bearer …',
    secret: 'value',
  },
  type: { schema: z.enum(['webdav']), help: '`webdav`: an http(s):// URL names a WebDAV server' },
} as const;
export type WebdavSpec = SpecOf<typeof webdavOptions>;
