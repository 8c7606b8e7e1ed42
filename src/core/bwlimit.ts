/**
 * The `bwlimit` target key (README: Bandwidth limits), rclone's syntax: a rate such as `10M`
 * or `512k` in bytes per second (suffixes B, K, M, G, T: powers of 1024, as rclone reads
 * them), `off`, or a daily timetable `"08:00,512k 19:00,off"`: from 08:00 the limit is 512
 * KiB/s, from 19:00 there is none, and before 08:00 the last entry of the day before holds.
 * Pure: parsing and choosing the rate for a moment, no I/O and no clock of its own.
 */

/** Bytes per second; undefined: no limit. */
export type Rate = number | undefined;

export interface BwEntry {
  /** Minutes after local midnight from which `rate` holds. */
  readonly atMinute: number;
  readonly rate: Rate;
}

/** One rate all day, or a timetable sorted by time. */
export type BwSchedule = readonly BwEntry[];

export type BwParse = { ok: true; schedule: BwSchedule } | { ok: false; message: string };

const UNITS: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
const FIX = 'write a rate with its unit such as 10M or 512k (bytes per second, binary units), off, or a timetable such as "08:00,512k 19:00,off"';

/** `10M`, `512k`, `1.5M`, `100KiB`, `2MB/s`, `off`. */
export function parseRate(text: string): { ok: true; rate: Rate } | { ok: false; message: string } {
  const t = text.trim();
  if (/^off$/i.test(t)) return { ok: true, rate: undefined };
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt])?(?:i?b)?(?:\/s)?$/i.exec(t);
  if (!m) return { ok: false, message: `${JSON.stringify(text)} is not a rate; ${FIX}` };
  if (m[2] === undefined) return { ok: false, message: `${JSON.stringify(text)} has no unit (rclone would read KiB/s, others bytes); ${FIX}` };
  const rate = Math.round(Number(m[1]) * UNITS[m[2].toLowerCase()]!);
  if (!(rate >= 1)) return { ok: false, message: `${JSON.stringify(text)} is no bandwidth at all: write off for no limit, or at least 1k` };
  return { ok: true, rate };
}

/** Parses a `bwlimit` value; never throws (the message names what is wrong and the fix). */
export function parseBwlimit(value: unknown): BwParse {
  if (typeof value === 'number') return { ok: false, message: `${value} has no unit (rclone would read KiB/s, others bytes); ${FIX}` };
  if (typeof value !== 'string' || value.trim() === '') return { ok: false, message: FIX };
  const parts = value.trim().split(/\s+/);
  if (parts.length === 1 && !parts[0]!.includes(',')) {
    const r = parseRate(parts[0]!);
    return r.ok ? { ok: true, schedule: [{ atMinute: 0, rate: r.rate }] } : r;
  }
  const entries: BwEntry[] = [];
  for (const part of parts) {
    const m = /^(\d{1,2}):(\d{2}),(.+)$/.exec(part);
    if (!m) return { ok: false, message: `timetable entry ${JSON.stringify(part)} is not HH:MM,RATE (weekday entries and up:down rates are not supported); ${FIX}` };
    const h = Number(m[1]);
    const min = Number(m[2]);
    if (h > 23 || min > 59) return { ok: false, message: `timetable entry ${JSON.stringify(part)}: ${m[1]}:${m[2]} is not a time of day (00:00 to 23:59)` };
    const r = parseRate(m[3]!);
    if (!r.ok) return { ok: false, message: `timetable entry ${JSON.stringify(part)}: ${r.message}` };
    const atMinute = h * 60 + min;
    if (entries.some((e) => e.atMinute === atMinute)) return { ok: false, message: `timetable entry ${JSON.stringify(part)}: ${m[1]}:${m[2]} is given twice` };
    entries.push({ atMinute, rate: r.rate });
  }
  return { ok: true, schedule: entries.sort((a, b) => a.atMinute - b.atMinute) };
}

/** The rate in force at `minuteOfDay` (local time): the last entry at or before it, else the day's last. */
export function rateAt(schedule: BwSchedule, minuteOfDay: number): Rate {
  if (schedule.length === 0) return undefined;
  let current = schedule[schedule.length - 1]!;
  for (const e of schedule) if (e.atMinute <= minuteOfDay) current = e;
  return current.rate;
}

/** True when the schedule never limits anything (all `off`). */
export function isUnlimited(schedule: BwSchedule): boolean {
  return schedule.every((e) => e.rate === undefined);
}

/** `10 MiB/s`, `512 KiB/s`, `off`: for log lines. */
export function formatRate(rate: Rate): string {
  if (rate === undefined) return 'off';
  for (const [unit, size] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (rate >= size) return `${Number((rate / size).toFixed(2))} ${unit}/s`;
  }
  return `${rate} B/s`;
}
