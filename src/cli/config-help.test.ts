import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema, syncSchema } from '../config/schema.ts';
import { DEFAULT_DEBOUNCE_MS, DEFAULT_RESCAN_SEC } from '../engine/sync-runner.ts';
import { BACKENDS } from '../targets/registry.ts';
import { configHelp } from './config-help.ts';

/** The lines of one section of the help: after its heading, up to the next heading. */
function section(text: string, heading: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `no section "${heading}"`);
  const end = lines.findIndex((l, i) => i > start && /^\S/.test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end).filter((l) => l !== '');
}

/** key → its default line, from lines like "  key: type", "      help", "      default: …". */
function keysOf(lines: string[], indent: string): Map<string, string> {
  const keys = new Map<string, string>();
  let current: string | undefined;
  for (const l of lines) {
    const key = new RegExp(`^${indent}([A-Za-z]+): `).exec(l);
    if (key) current = key[1]!;
    const d = /^\s+default: (.*)$/.exec(l);
    if (d && current !== undefined) keys.set(current, d[1]!);
  }
  return keys;
}

describe('help config', () => {
  const text = configHelp();

  it('lists every top-level key of the schema, each with a default, and nothing else', () => {
    const keys = keysOf(section(text, 'Configuration file keys (YAML; relative paths are relative to the file):'), '  ');
    assert.deepEqual([...keys.keys()].sort(), Object.keys(configSchema.shape).sort());
  });

  it('lists every key of a sync, each with a default, and nothing else', () => {
    const keys = keysOf(section(text, 'Each entry of syncs:'), '    ');
    assert.deepEqual([...keys.keys()].sort(), Object.keys(syncSchema.shape).sort());
  });

  it('lists url and every key any target declares, with which targets take it', () => {
    const lines = section(text, 'Each entry of targets:');
    const keys = keysOf(lines, '      ');
    const declared = new Set(['url', ...BACKENDS.flatMap((b) => Object.keys(b.options))]);
    assert.deepEqual([...keys.keys()].sort(), [...declared].sort());
    for (const b of BACKENDS) {
      for (const key of Object.keys(b.options)) {
        const at = lines.findIndex((l) => l.startsWith(`      ${key}: `));
        assert.match(lines[at + 1]!, new RegExp(`for: .*${b.name.replace(/[()/]/g, '.')}`), `${key}: ${b.name} not named`);
      }
    }
  });

  it('shows the defaults the code uses', () => {
    const top = keysOf(text.split('\n'), '  ');
    assert.equal(top.get('debounceMs'), String(DEFAULT_DEBOUNCE_MS));
    assert.equal(top.get('rescanIntervalSec'), String(DEFAULT_RESCAN_SEC));
    const targets = keysOf(section(text, 'Each entry of targets:'), '      ');
    for (const b of BACKENDS) {
      for (const [key, value] of Object.entries(b.defaults ?? {})) {
        assert.ok(targets.get(key)?.includes(`${b.name} ${JSON.stringify(value)}`), `${key}: default of ${b.name} (${JSON.stringify(value)}) not shown: ${targets.get(key)}`);
      }
    }
  });
});
