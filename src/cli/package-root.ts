/**
 * The folder of sync-inotify's own package.json. This module runs from src/cli (through tsx)
 * or from the single bundle in dist/, so paths relative to it differ between the two; the
 * package root does not. Found by walking up to the package.json named `sync-inotify`.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === 'sync-inotify') return dir;
    } catch {
      // no package.json here: keep walking up
    }
    if (dirname(dir) === dir) throw new Error(`sync-inotify: no package.json of sync-inotify above ${from}`);
  }
}

export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

/** The version in package.json. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The CLI entry point, for spawning the detached daemon. */
export const BIN_PATH = join(PACKAGE_ROOT, 'bin/sync-inotify.js');
