/**
 * ssh2, loaded when an SFTP target first connects rather than at every start: it is about
 * 10 ms of the CLI's start-up (its modules and their set-up), which commands without an SFTP
 * target would otherwise pay. `loadSsh2()` patches ssh2 before it loads: the random padding
 * (ssh2 keeps the randomFillSync it finds when it loads: padding-random.ts) and names as
 * bytes (byte-names.ts); `ssh2()` is for code that runs after a connect, and says so if
 * called before.
 */
type Ssh2 = typeof import('ssh2');

let loaded: Ssh2 | undefined;
let loading: Promise<Ssh2> | undefined;

export function loadSsh2(): Promise<Ssh2> {
  if (loaded !== undefined) return Promise.resolve(loaded);
  loading ??= (async () => {
    await import('./padding-random.ts');
    const { patchSsh2ForByteNames } = await import('./byte-names.ts');
    await patchSsh2ForByteNames();
    const m = (await import('ssh2')) as Ssh2 & { default?: Ssh2 };
    loaded = m.default ?? m;
    return loaded;
  })();
  // A failed patch is not cached as "loaded": every connect reports it.
  return loading;
}

export function ssh2(): Ssh2 {
  if (loaded === undefined) throw new Error('ssh2 is used before loadSsh2() resolved (an SFTP target must connect first)');
  return loaded;
}
