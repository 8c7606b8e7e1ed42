/** The rsync backend's declaration (see ../backend.ts). */
import { defineBackend } from '../backend.ts';
import { rsyncOptions } from './options.ts';
import { createRsyncTarget, RSYNC_DEFAULTS } from './create.ts';

export const rsyncBackend = defineBackend({
  name: 'rsync',
  schemes: ['rsync', 'rsync+ssh'],
  urlForm: 'rsync://user@host:port/module/path (an rsync daemon), rsync+ssh://user@host:port/path (rsync over SSH)',
  options: rsyncOptions,
  defaults: { timeoutMs: RSYNC_DEFAULTS.timeoutMs },
  create: createRsyncTarget,
});
