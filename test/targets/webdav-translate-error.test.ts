/**
 * Table tests of the WebDAV backend's pure parts (no server needed): the status table, the
 * network error table, multistatus parsing as each server writes it, path encoding, Digest
 * auth against the RFC 7616 vectors, and the settings.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { TargetError, type TargetErrorCode } from '../../src/targets/errors.ts';
import { DigestSession, parseChallenges } from '../../src/targets/webdav/http-auth.ts';
import { createTarget } from '../../src/targets/registry.ts';
import { firstFailure, parseMultistatus } from '../../src/targets/webdav/multistatus.ts';
import { codeForStatus, translateNetworkError, type DavOperation } from '../../src/targets/webdav/translate-error.ts';
import { encodeSegment, relativeFromHref, requestPath } from '../../src/targets/webdav/webdav-paths.ts';
import { loadWebdavModules } from '../../src/targets/webdav/webdav-modules.ts';
import { webdavSettings, type WebdavSpec } from '../../src/targets/webdav/webdav-settings.ts';

before(() => loadWebdavModules());

describe('webdav status table', () => {
  const cases: Array<[string, DavOperation, number, TargetErrorCode]> = [
    ['MKCOL on an existing collection (Apache, nginx, rclone)', 'mkdir', 405, 'E_EXISTS'],
    ['MKCOL with a missing parent (Apache, RFC 4918)', 'mkdir', 409, 'E_NOT_FOUND'],
    ['PUT with a missing parent (Apache)', 'put', 409, 'E_NOT_FOUND'],
    ['PUT with a missing parent (rclone)', 'put', 404, 'E_NOT_FOUND'],
    ['PUT refused (403: the target looks at the parent first)', 'put', 403, 'E_PERMISSION'],
    ['PUT onto a collection', 'put', 405, 'E_EXISTS'],
    ['MOVE with Overwrite: F onto something', 'move', 412, 'E_EXISTS'],
    ['MOVE to a missing parent', 'move', 409, 'E_NOT_FOUND'],
    ['MOVE refused by the destination server', 'move', 502, 'E_PERMISSION'],
    ['DELETE not allowed', 'delete', 405, 'E_PERMISSION'],
    ['DELETE of a locked resource', 'delete', 423, 'E_PROTOCOL'],
    ['PROPFIND Depth 1 on a file URL', 'list', 405, 'E_NOT_FOUND'],
    ['PROPPATCH of a protected property', 'proppatch', 403, 'E_UNSUPPORTED'],
    ['PROPPATCH conflict (Apache live property)', 'proppatch', 409, 'E_UNSUPPORTED'],
    ['login refused', 'stat', 401, 'E_AUTH'],
    ['the root does not exist and cannot be made', 'connect', 403, 'E_CONFIG'],
    ['a redirect at connect (http vs https)', 'connect', 301, 'E_CONFIG'],
    ['a redirect elsewhere', 'stat', 302, 'E_PROTOCOL'],
    ['quota', 'put', 507, 'E_NO_SPACE'],
    ['body too large for the server', 'put', 413, 'E_PERMISSION'],
    ['URI too long', 'put', 414, 'E_NAME'],
    ['bad request (nginx: a name it cannot take)', 'put', 400, 'E_NAME'],
    ['rate limited', 'put', 429, 'E_CONNECTION'],
    ['bad gateway', 'list', 502, 'E_CONNECTION'],
    ['unavailable', 'list', 503, 'E_CONNECTION'],
    ['gateway timeout', 'list', 504, 'E_TIMEOUT'],
    ['internal error', 'put', 500, 'E_PROTOCOL'],
    ['unknown 4xx', 'put', 418, 'E_PROTOCOL'],
  ];
  for (const [name, op, status, code] of cases) {
    it(`${name}: ${op} ${status} → ${code}`, () => assert.equal(codeForStatus(op, status), code));
  }
});

describe('webdav network error table', () => {
  const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });
  const cases: Array<[string, unknown, TargetErrorCode]> = [
    ['connection refused', withCode('connect ECONNREFUSED 127.0.0.1:8080', 'ECONNREFUSED'), 'E_CONNECTION'],
    ['socket closed by the server', withCode('other side closed', 'UND_ERR_SOCKET'), 'E_CONNECTION'],
    ['headers timeout', withCode('Headers Timeout Error', 'UND_ERR_HEADERS_TIMEOUT'), 'E_TIMEOUT'],
    ['body timeout', withCode('Body Timeout Error', 'UND_ERR_BODY_TIMEOUT'), 'E_TIMEOUT'],
    ['connect timeout', withCode('Connect Timeout Error', 'UND_ERR_CONNECT_TIMEOUT'), 'E_TIMEOUT'],
    ['untrusted certificate', withCode('self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN'), 'E_HOST_KEY'],
    ['unknown issuer', withCode('unable to verify the first certificate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'), 'E_HOST_KEY'],
    ['wrong host name', withCode("Hostname/IP does not match certificate's altnames", 'ERR_TLS_CERT_ALTNAME_INVALID'), 'E_HOST_KEY'],
    ['https to a plain server', new Error('write EPROTO 40B8:error:0A00010B:SSL routines:ssl3_get_record:wrong version number'), 'E_CONFIG'],
    ['wrapped cause', Object.assign(new TypeError('fetch failed'), { cause: withCode('read ECONNRESET', 'ECONNRESET') }), 'E_CONNECTION'],
  ];
  for (const [name, err, code] of cases) {
    it(`${name} → ${code}`, () => {
      const te = translateNetworkError(err, 'PUT webdav://u@h/x "f"', 'f');
      assert.equal(te.code, code);
      assert.equal(te.path, 'f');
    });
  }
});

describe('webdav multistatus', () => {
  it('Apache: namespaced live properties, a collection and a file, percent-encoded hrefs', () => {
    const xml = `<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:" xmlns:ns0="DAV:">
<D:response xmlns:lp1="DAV:" xmlns:lp2="http://apache.org/dav/props/">
<D:href>/mirror/root/</D:href>
<D:propstat><D:prop><lp1:resourcetype><D:collection/></lp1:resourcetype><lp1:getlastmodified>Thu, 03 Dec 2026 09:00:00 GMT</lp1:getlastmodified></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>
<D:propstat><D:prop><D:getcontentlength/></D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>
</D:response>
<D:response xmlns:lp1="DAV:">
<D:href>/mirror/root/with%20space%20&amp;%20%23hash</D:href>
<D:propstat><D:prop><lp1:resourcetype/><lp1:getcontentlength>12</lp1:getcontentlength><lp1:getlastmodified>Thu, 02 Jan 2020 03:04:05 GMT</lp1:getlastmodified></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>
</D:response>
</D:multistatus>`;
    const members = parseMultistatus(xml);
    assert.equal(members.length, 2);
    assert.equal(members[0]!.collection, true);
    assert.equal(members[1]!.collection, false);
    assert.equal(members[1]!.size, 12);
    assert.equal(members[1]!.mtimeMs, Date.UTC(2020, 0, 2, 3, 4, 5));
    assert.equal(relativeFromHref(['mirror', 'root'], members[1]!.href), 'with space & #hash');
    assert.equal(relativeFromHref(['mirror', 'root'], members[0]!.href), '');
  });

  it('nginx dav_ext and rclone: D: prefix, absolute-URL hrefs, digits-only names stay text', () => {
    const xml = `<?xml version="1.0" encoding="utf-8" ?><D:multistatus xmlns:D="DAV:"><D:response><D:href>http://127.0.0.1:8080/r/0123</D:href><D:propstat><D:prop><D:resourcetype></D:resourcetype><D:getcontentlength>0</D:getcontentlength></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response><D:response><D:href>/r/%E6%BC%A2%E5%AD%97/</D:href><D:propstat><D:prop><D:resourcetype><D:collection xmlns:D="DAV:"/></D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>`;
    const [file, dir] = parseMultistatus(xml);
    assert.equal(relativeFromHref(['r'], file!.href), '0123');
    assert.equal(file!.size, 0);
    assert.equal(file!.collection, false);
    assert.equal(relativeFromHref(['r'], dir!.href), '漢字');
    assert.equal(dir!.collection, true);
  });

  it('a failed DELETE names its member; PROPPATCH refusals are per property', () => {
    const del = parseMultistatus(
      '<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"><d:response><d:href>/r/a/locked.txt</d:href><d:status>HTTP/1.1 423 Locked</d:status></d:response></d:multistatus>',
    );
    assert.equal(firstFailure(del)?.status, 423);
    const patch = parseMultistatus(
      '<?xml version="1.0" encoding="UTF-8"?><D:multistatus xmlns:D="DAV:"><D:response><D:href>/f</D:href><D:propstat><D:prop><D:getlastmodified></D:getlastmodified></D:prop><D:status>HTTP/1.1 403 Forbidden</D:status></D:propstat></D:response></D:multistatus>',
    );
    assert.equal(patch[0]!.failedProps.get('getlastmodified'), 403);
    assert.deepEqual(parseMultistatus('not xml <'), []);
    assert.deepEqual(parseMultistatus('<html><body>Bad Gateway</body></html>'), []);
  });
});

describe('webdav paths', () => {
  it('encodes every segment; collections end with a slash', () => {
    assert.equal(encodeSegment("#%?&+ =;'()*!"), '%23%25%3F%26%2B%20%3D%3B%27%28%29%2A%21');
    assert.equal(requestPath(['mirror', 'my root'], 'a b/c#d', false), '/mirror/my%20root/a%20b/c%23d');
    assert.equal(requestPath(['mirror'], 'dir', true), '/mirror/dir/');
    assert.equal(requestPath([], '', true), '/');
    assert.equal(requestPath(['r'], '', true), '/r/');
    assert.equal(requestPath(['r'], 'line\nbreak', false), '/r/line%0Abreak');
  });

  it('hrefs outside the root are not ours; a raw backslash is a name character', () => {
    assert.equal(relativeFromHref(['r'], '/other/x'), undefined);
    assert.equal(relativeFromHref(['r', 's'], '/r/'), undefined);
    assert.equal(relativeFromHref(['r'], '/r/a\\b'), 'a\\b');
    assert.equal(relativeFromHref(['r'], '/r/%ZZ'), undefined);
  });

  it('names that are not valid UTF-8 go out as percent-encoded bytes and come back the same', () => {
    const name = `bad${String.fromCharCode(0xdcff)}n\u00e9`;
    const path = requestPath(['r'], `d/${name}`, false);
    assert.equal(path, '/r/d/bad%FFn%C3%A9');
    assert.equal(relativeFromHref(['r'], path), `d/${name}`);
    assert.equal(relativeFromHref(['r'], '/r/caf%C3%A9'), 'caf\u00e9');
  });
});

describe('webdav http auth', () => {
  const challenge = (alg: string) =>
    parseChallenges([
      `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=${alg}, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`,
    ])[0]!;
  const cnonce = () => 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ';

  it('RFC 7616 §3.9.1 vectors: MD5 and SHA-256', () => {
    const md5 = new DigestSession(challenge('MD5'), 'Mufasa', 'Circle of Life', cnonce).authorization('GET', '/dir/index.html');
    assert.match(md5, /response="8ca523f5e9506fed4657c9700eebdbec"/);
    assert.match(md5, /nc=00000001/);
    const sha = new DigestSession(challenge('SHA-256'), 'Mufasa', 'Circle of Life', cnonce).authorization('GET', '/dir/index.html');
    assert.match(sha, /response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"/);
    assert.doesNotMatch(md5 + sha, /Circle of Life/);
  });

  it('several challenges in one header and across headers', () => {
    const list = parseChallenges(['Basic realm="a, b", Digest realm="x", nonce="n", stale=TRUE', 'Bearer']);
    assert.deepEqual(
      list.map((c) => c.scheme),
      ['basic', 'digest', 'bearer'],
    );
    assert.equal(list[0]!.params['realm'], 'a, b');
    assert.equal(list[1]!.params['stale'], 'TRUE');
  });
});

describe('webdav settings', () => {
  const settings = (url: string, spec: Partial<WebdavSpec> = {}) => webdavSettings({ url, ...spec }, new URL(url));
  const configError = (fn: () => unknown, re: RegExp) =>
    assert.throws(fn, (err: unknown) => {
      assert.ok(err instanceof TargetError && err.code === 'E_CONFIG', String(err));
      assert.match(err.message, re);
      return true;
    });

  it('schemes: webdav is http, webdavs is https, http(s) needs type: webdav', () => {
    assert.equal(settings('webdav://u@h/x').origin, 'http://h:80');
    assert.equal(settings('webdavs://u@h:8443/x').origin, 'https://h:8443');
    assert.equal(settings('https://u@h/x', { type: 'webdav' }).origin, 'https://h:443');
    configError(() => settings('https://u@h/x'), /type: webdav/);
    assert.deepEqual(settings('webdav://u@h/a%20b/c/').rootSegments, ['a b', 'c']);
  });

  it('passwords never appear in errors or the display name', () => {
    const s = settings('webdav://u:s3cret-pw@h/x');
    assert.equal(s.password, 's3cret-pw');
    assert.doesNotMatch(s.displayName, /s3cret/);
    try {
      settings('webdav://u:s3cret-pw@h/x', { connections: 0 });
      assert.fail('connections 0 accepted');
    } catch (err) {
      assert.doesNotMatch(String((err as Error).message), /s3cret/);
    }
  });

  it('keys that do not apply, TLS keys on plain HTTP, bad headers', () => {
    configError(() => createTarget({ url: 'webdav://u@h/x', identityFile: '/k' }), /key "identityFile" does not apply to WebDAV/);
    configError(() => settings('webdav://u@h/x', { insecure: true }), /only to HTTPS/);
    configError(() => settings('webdav://u@h/x', { headers: { Depth: '1' } }), /set by sync-inotify/);
    configError(() => settings('webdav://u@h/x', { headers: { 'X-Token': 'se\ncret' } }), /must be one line/);
    try {
      settings('webdav://u@h/x', { headers: { 'X-Token': 'se\ncret' } });
    } catch (err) {
      assert.doesNotMatch((err as Error).message, /se\s*cret/);
    }
    assert.deepEqual(settings('webdav://u@h/x', { headers: { Authorization: 'Bearer t' } }).headers, { Authorization: 'Bearer t' });
  });
});
