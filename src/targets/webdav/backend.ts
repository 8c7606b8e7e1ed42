/** The WebDAV backend's declaration (see ../backend.ts). */
import { defineBackend } from '../backend.ts';
import { webdavOptions } from './options.ts';
import { createWebdavTarget } from './webdav-target.ts';
import { WEBDAV_DEFAULTS } from './webdav-settings.ts';

export const webdavBackend = defineBackend({
  name: 'WebDAV',
  schemes: ['webdav', 'webdavs', 'http', 'https'],
  urlForm: 'webdav://user@host:port/path, webdavs://… (http(s)://… with type: webdav)',
  options: webdavOptions,
  defaults: { connections: WEBDAV_DEFAULTS.connections, timeoutMs: WEBDAV_DEFAULTS.timeoutMs },
  create: (spec, url) => createWebdavTarget(spec, url),
});
