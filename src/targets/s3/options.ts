/** The keys an S3 target takes (see ../backend.ts). */
import { z } from 'zod';
import type { SpecOf } from '../backend.ts';
import { connections, timeoutMs } from '../common-options.ts';

/** The canned ACLs S3 defines (x-amz-acl). */
export const CANNED_ACLS = ['private', 'public-read', 'public-read-write', 'authenticated-read', 'aws-exec-read', 'bucket-owner-read', 'bucket-owner-full-control'] as const;

export const s3Options = {
  endpoint: {
    schema: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
    help: 'S3-compatible endpoint URL (default: AWS for the region)',
  },
  region: { schema: z.string().min(1), help: 'region to sign for (default us-east-1, or AWS_REGION)' },
  pathStyle: { schema: z.boolean(), help: 'bucket in the path, not the host name (default: true with an endpoint)' },
  accessKeyId: {
    schema: z.string().min(1),
    help: 'access key id (else AWS_ACCESS_KEY_ID, or a profile of the shared credentials file)',
    secret: 'value',
  },
  secretAccessKey: { schema: z.string().min(1), help: 'secret access key (with accessKeyId)', secret: 'value' },
  secretAccessKeyFile: { schema: z.string(), help: 'file holding the secret access key (one line)', secret: 'file', path: true },
  profile: { schema: z.string().min(1), help: 'profile of ~/.aws/credentials and ~/.aws/config (else AWS_PROFILE)' },
  storageClass: { schema: z.string().regex(/^[A-Z_]+$/, 'must look like STANDARD or STANDARD_IA'), help: 'storage class of uploaded objects' },
  acl: { schema: z.enum(CANNED_ACLS), help: `canned ACL of uploaded objects: ${CANNED_ACLS.join(' | ')}` },
  directoryMarkers: { schema: z.boolean(), help: "keep empty directories as 'dir/' objects (default false)" },
  partSizeMiB: {
    schema: z.number().int().min(5, 'at least 5 (the S3 minimum part size)').max(5120, 'at most 5120'),
    help: 'files larger than this are uploaded in parts of this size, in parallel (default 16)',
  },
  connections,
  timeoutMs,
} as const;
export type S3Spec = SpecOf<typeof s3Options>;
