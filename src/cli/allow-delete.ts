/**
 * `allow-delete`: the operator confirms the deletes a safety gate refused (the source was
 * emptied, replaced or unmounted on purpose, or a plan deleting more than maxDelete is
 * wanted). The running daemon lets each halted target carry out its next plan whole, once;
 * a target whose source folder is missing cannot be confirmed (there is nothing to mirror).
 */
import { controlRequest } from '../service/control.ts';
import { pidState } from '../service/pid-file.ts';
import type { CommonOptions } from './context.ts';
import { complain, instanceFor, say } from './instance.ts';
import { EXIT } from '../service/exit-codes.ts';

export async function allowDeleteCommand(source: string | undefined, dest: string | undefined, opts: CommonOptions): Promise<number> {
  const { paths } = instanceFor(source, dest, opts);
  if (pidState(paths.pidFile).state !== 'running') {
    complain(`${paths.name}: not running (for a one-shot sync use \`sync-inotify once --allow-delete\` with the same arguments)`);
    return EXIT.unavailable;
  }
  const { released } = await controlRequest<{ released: string[] }>(paths.socket, 'allow-delete');
  if (released.length === 0) {
    complain(`${paths.name}: no target is halted by a safety gate that can be confirmed (see \`sync-inotify status\`)`);
    return EXIT.failed;
  }
  for (const t of released) say(`${paths.name}: ${t}: deletes confirmed; the next plan runs whole`);
  return EXIT.ok;
}
