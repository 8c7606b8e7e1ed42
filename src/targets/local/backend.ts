/** The local folder backend's declaration (see ../backend.ts). */
import { defineBackend } from '../backend.ts';
import { createLocalTarget } from './local-target.ts';
import { localOptions } from './options.ts';

export const localBackend = defineBackend({
  name: 'a local folder',
  schemes: ['file'],
  urlForm: '/path, ./path or file:///path',
  options: localOptions,
  // File operations in flight: enough to overlap the thread pool's syscalls, not more.
  defaults: { connections: 8 },
  create: createLocalTarget,
});
