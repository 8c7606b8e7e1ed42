/**
 * Where an instance keeps its files when the config does not say: as root the system folders
 * (the original script used /var/run and /var/log), otherwise the XDG folders of the user.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export function defaultStatePath(name: string): string {
  if (isRoot()) return join('/var/lib/sync-inotify', `${name}.db`);
  const base = process.env['XDG_STATE_HOME'] || join(homedir(), '.local', 'state');
  return join(base, 'sync-inotify', `${name}.db`);
}
