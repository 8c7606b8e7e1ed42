import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactSecrets, redactUrl } from './errors.ts';
import { decodeUrlPart } from './secrets.ts';

describe('redactSecrets (free text: logs, errors, status)', () => {
  const table: [string, string][] = [
    ['put to ftp://deploy:secret@host/x failed', 'put to ftp://deploy:***@host/x failed'],
    ['ftp://user:p@ss:w/rd%#x@127.0.0.1/x is not', 'ftp://user:***@127.0.0.1/x is not'],
    ['"sftp://u:a/b@h/x"', '"sftp://u:***@h/x"'],
    ['ftp://deploy@host/x (no password)', 'ftp://deploy@host/x (no password)'],
    ['ftp://:onlypw@host/', 'ftp://:***@host/'],
    ['two: ftp://a:x1@h1/ and sftp://b:y2@h2/', 'two: ftp://a:***@h1/ and sftp://b:***@h2/'],
  ];
  for (const [input, want] of table) it(input, () => assert.equal(redactSecrets(input), want));
});

describe('redactUrl (a URL as typed, parsed or not)', () => {
  const table: [string, string][] = [
    ['ftp://user:p@ss:w/rd%#x@127.0.0.1/x', 'ftp://user:***@127.0.0.1/x'],
    ['ftps://user:two words@host/', 'ftps://user:***@host/'],
    ['sftp://user@host:99999/x', 'sftp://user@host:99999/x'],
    ['ftp://host:badport/x', 'ftp://host:badport/x'],
  ];
  for (const [input, want] of table) it(input, () => assert.equal(redactUrl(input), want));
});

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
