/** The S3 backend's declaration (see ../backend.ts). */
import { defineBackend } from '../backend.ts';
import { s3Options } from './options.ts';
import { createS3Target, S3_DEFAULTS } from './s3-target.ts';

export const s3Backend = defineBackend({
  name: 'S3',
  schemes: ['s3'],
  urlForm: 's3://bucket/prefix (the server: endpoint, region)',
  options: s3Options,
  defaults: { connections: S3_DEFAULTS.connections, timeoutMs: S3_DEFAULTS.timeoutMs, partSizeMiB: S3_DEFAULTS.partSizeMiB, directoryMarkers: false },
  create: createS3Target,
});
