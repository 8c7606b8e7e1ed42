/** `restart`: stop (if running), then start. A configuration that does not validate stops nothing. */
import { resolveConfig } from './context.ts';
import { startCommand } from './start.ts';
import { stopCommand, type StopOptions } from './stop.ts';

export async function restartCommand(source: string | undefined, dest: string | undefined, opts: StopOptions): Promise<number> {
  resolveConfig(source, dest, opts);
  const stopped = await stopCommand(source, dest, opts);
  if (stopped !== 0) return stopped;
  return startCommand(source, dest, opts);
}
