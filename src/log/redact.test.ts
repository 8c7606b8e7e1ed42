import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maskSecrets, maskValue, redactSecrets, redactUrl } from './redact.ts';

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

describe('maskSecrets and maskValue (configured secrets)', () => {
  it('masks every occurrence, deeply, and URL passwords too', () => {
    const v = maskValue({ a: 'key s3cr3t!', b: ['ftp://u:pw@h/ s3cr3t!'], n: 3 }, ['s3cr3t!']);
    assert.deepEqual(v, { a: 'key ***', b: ['ftp://u:***@h/ ***'], n: 3 });
  });
  it('leaves secrets shorter than 4 characters (they would mangle paths)', () => assert.equal(maskSecrets('a/b/abc', ['abc']), 'a/b/abc'));
});
