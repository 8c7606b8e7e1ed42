/**
 * Target keys that more than one backend takes, declared once so that a key means the same
 * everywhere (see backend.ts). A backend lists the ones it takes in its own declaration.
 */
import { z } from 'zod';
import type { TargetOption } from './backend.ts';

const positiveInt = z.number().int().positive();

export const password = {
  schema: z.string(),
  help: 'password (also: passwordFile, the URL, or SYNC_INOTIFY_PASSWORD)',
  secret: 'value',
} as const satisfies TargetOption;

export const passwordFile = {
  schema: z.string(),
  help: 'file holding the password (one line)',
  secret: 'file',
  path: true,
} as const satisfies TargetOption;

export const connections = {
  schema: positiveInt.max(64, 'at most 64'),
  help: 'parallel connections (or operations) to the target',
} as const satisfies TargetOption;

export const timeoutMs = {
  schema: positiveInt.min(100, 'at least 100 ms'),
  help: 'a connection or transfer that makes no progress this long fails and is retried',
} as const satisfies TargetOption;

export const ca = {
  schema: z.string(),
  help: 'PEM file of a CA to trust besides the system ones',
  path: true,
} as const satisfies TargetOption;

export const insecure = {
  schema: z.boolean(),
  help: 'skip certificate verification (logged as a warning)',
} as const satisfies TargetOption;
