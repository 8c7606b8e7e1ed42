/**
 * Reading and validating configuration. YAML with duplicate keys rejected; every error names
 * the file, the key path (`syncs[0].targets[1].pasword`) and the fix.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { redactSecrets } from '../log/redact.ts';
import { PATH_KEYS } from '../targets/registry.ts';
import { ConfigError } from './errors.ts';
import { configSchema, type ConfigFile } from './schema.ts';

export const DEFAULT_NAME = 'sync-inotify';

export function loadConfigFile(file: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(`config ${file}: ${doc.errors[0]!.message}`);
  }
  const config = validateConfig(doc.toJS(), file);
  return resolvePaths(config, dirname(resolve(file)));
}

/** Relative paths in a config file are relative to the file, not to the working directory. */
function resolvePaths(c: ConfigFile, base: string): ConfigFile {
  const abs = (p: string | undefined) => (p === undefined ? undefined : resolve(base, p));
  return {
    ...c,
    ...(c.state !== undefined ? { state: abs(c.state)! } : {}),
    syncs: c.syncs.map((s) => ({
      ...s,
      source: abs(s.source)!,
      targets: s.targets.map((t) => {
        const paths = PATH_KEYS.flatMap((k) => {
          const v = (t as Record<string, unknown>)[k];
          return typeof v === 'string' ? [[k, abs(v)!]] : [];
        });
        return { ...t, url: /^[a-z][a-z0-9+.-]*:\/\//i.test(t.url) ? t.url : abs(t.url)!, ...Object.fromEntries(paths) };
      }),
    })),
  };
}

export function validateConfig(raw: unknown, origin: string): ConfigFile {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`config ${origin}: expected a mapping with "syncs:" at the top level`);
  }
  const parsed = configSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.slice(0, 5).map((issue) => `  - ${describeIssue(issue, raw)}`);
  throw new ConfigError(`config ${origin} is not valid:\n${lines.join('\n')}`);
}

function keyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out === '' ? '(top level)' : out;
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  const where = keyPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeysAt(issue.path);
    return issue.keys
      .map((k) => {
        const near = closest(k, known);
        const at = where === '(top level)' ? k : `${where}.${k}`;
        return `${at}: unknown key${near ? `; did you mean "${near}"?` : ''} (known keys: ${known.join(', ')})`;
      })
      .join('\n  - ');
  }
  if (issue.code === 'invalid_type' && valueAt(raw, issue.path) === undefined) {
    return `${where}: missing; add it (${issue.message})`;
  }
  if (issue.code === 'invalid_value' && 'values' in issue) {
    return `${where}: ${JSON.stringify(redactSecrets(String(valueAt(raw, issue.path))))} is not allowed; use one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return `${where}: ${issue.message}`;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = raw;
  for (const p of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

function knownKeysAt(path: readonly PropertyKey[]): string[] {
  // Walk the schema along the path (objects and arrays only: that is all the schema has).
  let schema: unknown = configSchema;
  for (const p of path) {
    const def = (schema as { def?: { type?: string; shape?: Record<string, unknown>; element?: unknown; innerType?: unknown } }).def;
    if (def?.type === 'optional') schema = def.innerType;
    const d = (schema as { def?: { type?: string; shape?: Record<string, unknown>; element?: unknown } }).def;
    if (typeof p === 'number' && d?.type === 'array') schema = d.element;
    else if (typeof p === 'string' && d?.shape) schema = d.shape[p];
  }
  const d = (schema as { def?: { type?: string; innerType?: unknown } }).def;
  const obj = d?.type === 'optional' ? d.innerType : schema;
  return Object.keys((obj as { def?: { shape?: Record<string, unknown> } }).def?.shape ?? {});
}

/** The known key nearest to `key` by edit distance, when near enough to be a typo. */
export function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
