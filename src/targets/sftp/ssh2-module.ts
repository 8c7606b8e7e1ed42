/**
 * ssh2, loaded when an SFTP target first connects rather than at every start: it is about
 * 10 ms of the CLI's start-up (its modules and their set-up), which commands without an SFTP
 * target would otherwise pay. `loadSsh2()` patches the random padding first (ssh2 keeps the
 * randomFillSync it finds when it loads: padding-random.ts); `ssh2()` is for code that runs
 * after a connect, and says so if called before.
 */
type Ssh2 = typeof import('ssh2');

let loaded: Ssh2 | undefined;

export async function loadSsh2(): Promise<Ssh2> {
  if (loaded === undefined) {
    await import('./padding-random.ts');
    const m = (await import('ssh2')) as Ssh2 & { default?: Ssh2 };
    loaded = m.default ?? m;
  }
  return loaded;
}

export function ssh2(): Ssh2 {
  if (loaded === undefined) throw new Error('ssh2 is used before loadSsh2() resolved (an SFTP target must connect first)');
  return loaded;
}
