/** `run`: mirror now, then keep watching, in the foreground (a terminal, or systemd). */
import { serve, type ServeOptions } from './serve.ts';

export function runCommand(source: string | undefined, dest: string | undefined, opts: ServeOptions): Promise<number> {
  return serve(source, dest, opts);
}
