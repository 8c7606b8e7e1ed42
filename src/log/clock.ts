/**
 * The clock the log files run on: time stamps and the midnight rotation.
 *
 * Test hook: SYNC_INOTIFY_FAKE_NOW=<ISO date> makes the process start at that instant (the
 * clock then runs at real speed from there), so a test can cross midnight in a few seconds.
 * Read only here; nothing outside logging looks at it.
 */
const fake = process.env['SYNC_INOTIFY_FAKE_NOW'];
const parsed = fake === undefined || fake === '' ? NaN : Date.parse(fake);
const offsetMs = Number.isNaN(parsed) ? 0 : parsed - Date.now();

export function logNow(): Date {
  return new Date(Date.now() + offsetMs);
}

/** `YYYY-MM-DD` in local time (the original script rotated at local midnight). */
export function localDay(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}
