import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeUrlPart } from './secrets.ts';

describe('decodeUrlPart', () => {
  const table: [string, string][] = [
    ['p%40ss', 'p@ss'],
    ['Bx2%zzJm6', 'Bx2%zzJm6'],
    ['a%41%zz%42', 'aA%zzB'],
    ['%E2%82%AC', '€'],
    ['%E2%82', '%E2%82'],
  ];
  for (const [input, want] of table) it(input, () => assert.equal(decodeUrlPart(input), want));
});
