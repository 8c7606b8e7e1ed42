import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TargetError } from '../errors.ts';
import { decodeListedKey, dirPrefixOf, finalPrefixOfTemp, fingerprintMetadata, fingerprintOf, keyOf, parseS3Url, pathOfKey } from './keys.ts';

describe('s3 keys', () => {
  it('parses s3://bucket/prefix', () => {
    const table: [string, string, string][] = [
      ['s3://bucket', 'bucket', ''],
      ['s3://bucket/', 'bucket', ''],
      ['s3://my.bucket-1/site/www/', 'my.bucket-1', 'site/www'],
      ['s3://bucket/with%20space/%C3%A9', 'bucket', 'with space/é'],
    ];
    for (const [url, bucket, prefix] of table) assert.deepEqual(parseS3Url(new URL(url)), { bucket, prefix }, url);
  });

  it('refuses credentials, ports, bad bucket names and unsafe prefixes (E_CONFIG, no secret quoted)', () => {
    for (const url of ['s3://AKIA:hunter2@bucket/x', 's3://bucket:9000/x', 's3://b/x', 's3://Bucket_Name/x', 's3://bucket/a/%2F/b', 's3://bucket/a//b']) {
      assert.throws(
        () => parseS3Url(new URL(url)),
        (err: unknown) => err instanceof TargetError && err.code === 'E_CONFIG' && !err.message.includes('hunter2'),
        url,
      );
    }
  });

  it('maps paths to keys and back', () => {
    const site = { bucket: 'b', prefix: 'site/www' };
    const whole = { bucket: 'b', prefix: '' };
    assert.equal(keyOf(site, 'css/a.css'), 'site/www/css/a.css');
    assert.equal(keyOf(whole, 'css/a.css'), 'css/a.css');
    assert.equal(dirPrefixOf(site, ''), 'site/www/');
    assert.equal(dirPrefixOf(whole, ''), '');
    assert.equal(dirPrefixOf(site, 'css'), 'site/www/css/');
    assert.equal(pathOfKey(site, 'site/www/css/a.css'), 'css/a.css');
    assert.equal(pathOfKey(whole, 'css/a.css'), 'css/a.css');
    // Keys no path of ours can name.
    for (const key of ['site/www/', 'site/www/css/', 'site/www//x', 'site/www/./x', 'other/x', 'site/wwwx/y']) assert.equal(pathOfKey(site, key), undefined, key);
  });

  it('finds the final name of a journalled temp name', () => {
    assert.equal(finalPrefixOfTemp('d/.index.html.sync-inotify-a1b2c3.tmp'), 'd/index.html');
    assert.equal(finalPrefixOfTemp('.top.sync-inotify-zzzzzz.tmp'), 'top');
    assert.equal(finalPrefixOfTemp('d/index.html'), undefined);
    assert.equal(finalPrefixOfTemp('d/.x.sync-inotify-TOOLONG.tmp'), undefined);
  });

  it('round-trips the fingerprint, and ignores a stale or foreign one', () => {
    const fp = { size: 5, mtimeMs: 1_600_000_000_123, sha256: 'a'.repeat(64) };
    const meta = fingerprintMetadata(fp);
    assert.deepEqual(fingerprintOf(meta, 5), fp);
    assert.equal(fingerprintOf(meta, 6), undefined, 'the object was rewritten by someone else');
    assert.equal(fingerprintOf({}, 5), undefined);
    assert.equal(fingerprintOf(undefined, 5), undefined);
    assert.equal(fingerprintOf({ ...meta, 'sync-inotify-sha256': 'nothex' }, 5), undefined);
  });

  it('decodes keys listed with encoding-type=url (AWS and Swift spellings)', () => {
    const table: [string, string][] = [
      ['p/ctl%01x', 'p/ctl\x01x'],
      ['p/plain%20a%2Bb%25c', 'p/plain a+b%c'], // Swift
      ['p/plain+a%2Bb%25c', 'p/plain a+b%c'], // AWS
      ['p/%C3%A9/', 'p/é/'],
      ['p/line%0Abreak', 'p/line\nbreak'],
    ];
    for (const [encoded, key] of table) assert.equal(decodeListedKey(encoded), key, encoded);
  });
});
