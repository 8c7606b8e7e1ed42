/**
 * A target as the user configured it: the URL and any backend's keys. The keys and their
 * meaning are declared by the backends (backend.ts); the type is derived from those
 * declarations in registry.ts, which also checks that each key fits the URL's backend.
 */
export type { TargetSpec } from './registry.ts';
