/**
 * Table tests of the FTP translation table and the listing helpers (no server needed).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FTPError } from 'basic-ftp';
import type { TargetErrorCode } from '../../src/targets/errors.ts';
import { directoriesFromPwd, entryFromMlst, formatMfmtTime, parseMlsxTime } from '../../src/targets/ftp/ftp-listing.ts';
import { translateFtpError, type FtpOperation } from '../../src/targets/ftp/translate-error.ts';

const reply = (code: number, message: string) => new FTPError({ code, message: `${code} ${message}` });

function withCode(err: Error, code: string): Error {
  return Object.assign(err, { code });
}

describe('ftp translate-error', () => {
  const cases: Array<[string, unknown, FtpOperation, TargetErrorCode]> = [
    ['530 at login', reply(530, 'Login incorrect.'), 'login', 'E_AUTH'],
    ['530 asking for TLS', reply(530, 'Non-anonymous sessions must use encryption.'), 'login', 'E_CONFIG'],
    ['534 policy (TLS)', reply(534, 'Policy requires SSL.'), 'connect', 'E_CONFIG'],
    ['421 too many', reply(421, 'There are too many connections from your internet address.'), 'connect', 'E_CONNECTION'],
    ['425 no data connection', reply(425, "Can't open data connection."), 'put', 'E_CONNECTION'],
    ['426 aborted', reply(426, 'Failure writing network stream.'), 'put', 'E_CONNECTION'],
    ['452 storage', reply(452, 'Error writing file: No space left on device.'), 'put', 'E_NO_SPACE'],
    ['552 quota', reply(552, 'Quota exceeded'), 'put', 'E_NO_SPACE'],
    ['553 name', reply(553, 'Could not create file.'), 'put', 'E_NAME'],
    ['553 with errno text', reply(553, "Can't open that file: Permission denied"), 'put', 'E_PERMISSION'],
    ['550 no such file', reply(550, "Can't check for file existence"), 'stat', 'E_NOT_FOUND'],
    ['550 not empty', reply(550, "Can't remove directory: Directory not empty"), 'rmdir', 'E_NOT_EMPTY'],
    ['550 exists', reply(550, "Can't create directory: File exists"), 'mkdir', 'E_EXISTS'],
    ['550 permission', reply(550, 'Permission denied.'), 'remove', 'E_PERMISSION'],
    ['550 wordless', reply(550, 'Delete operation failed.'), 'remove', 'E_PERMISSION'],
    ['451 rename onto a dir', reply(451, 'Rename/move failure: Is a directory'), 'rename', 'E_EXISTS'],
    ['451 wordless', reply(451, 'Local error'), 'put', 'E_PROTOCOL'],
    ['500 unknown command', reply(500, 'Unknown command.'), 'set mtime', 'E_UNSUPPORTED'],
    ['ECONNREFUSED', withCode(new Error('connect ECONNREFUSED 127.0.0.1:21'), 'ECONNREFUSED'), 'connect', 'E_CONNECTION'],
    ['ECONNRESET', withCode(new Error('read ECONNRESET (control socket)'), 'ECONNRESET'), 'list', 'E_CONNECTION'],
    ['control timeout', new Error('Timeout (control socket)'), 'list', 'E_TIMEOUT'],
    ['data timeout', new Error('Timeout (data socket)'), 'put', 'E_TIMEOUT'],
    ['closed client', withCode(new Error('Client is closed because Server closed connection unexpectedly.'), '0'), 'stat', 'E_CONNECTION'],
    ['unknown CA', withCode(new Error('unable to verify the first certificate'), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'), 'connect', 'E_HOST_KEY'],
    ['self-signed', withCode(new Error('self-signed certificate in certificate chain'), 'SELF_SIGNED_CERT_IN_CHAIN'), 'connect', 'E_HOST_KEY'],
    ['wrong host', withCode(new Error("Hostname/IP does not match certificate's altnames"), 'ERR_TLS_CERT_ALTNAME_INVALID'), 'connect', 'E_HOST_KEY'],
    ['line break', new Error('Invalid command: Contains control characters. (STOR /a\nb)'), 'put', 'E_NAME'],
  ];
  for (const [name, err, op, code] of cases) {
    it(`${name} → ${code}`, () => {
      const te = translateFtpError(err, op, 'some/path');
      assert.equal(te.code, code, te.message);
      assert.equal(te.path, 'some/path');
      assert.match(te.message, /^[a-z ]+ "some\/path": /);
    });
  }

  it('a bare 550 takes the caller\'s context', () => {
    assert.equal(translateFtpError(reply(550, 'Failed to change directory.'), 'list', 'd', { fallback550: 'E_NOT_FOUND' }).code, 'E_NOT_FOUND');
  });

  it('the secret is removed from message, cause message and stack', () => {
    const secret = 'hunter2-secret';
    const err = new Error(`server said: bad password ${secret} and ftp://u:${secret}@h/`);
    const te = translateFtpError(err, 'login', '', { secret });
    assert.ok(!te.message.includes(secret), te.message);
    assert.ok(!(te.cause as Error).message.includes(secret));
    assert.ok(!((te.cause as Error).stack ?? '').includes(secret));
  });
});

describe('ftp listing helpers', () => {
  it('parses MLST replies for files, dirs and times (UTC)', () => {
    const file = entryFromMlst('a b', '250-Begin\r\n type=file;size=5;modify=20210606070809; /x/a b\r\n250 End.');
    assert.deepEqual(file, { path: 'a b', kind: 'file', size: 5, mtimeMs: Date.UTC(2021, 5, 6, 7, 8, 9) });
    const dir = entryFromMlst('d', '250-Begin\n type=dir;sizd=4096;modify=20210606070809.5; /d\n250 End.');
    assert.equal(dir?.kind, 'dir');
    assert.equal(dir?.mtimeMs, Date.UTC(2021, 5, 6, 7, 8, 9, 500));
    assert.equal(entryFromMlst('n', '250 End.'), undefined);
  });

  it('formats MFMT times in UTC whole seconds and round-trips them', () => {
    const ms = Date.UTC(2001, 1, 3, 4, 5, 6, 789);
    assert.equal(formatMfmtTime(ms), '20010203040506');
    assert.equal(parseMlsxTime(formatMfmtTime(ms)), Date.UTC(2001, 1, 3, 4, 5, 6));
    assert.equal(parseMlsxTime('garbage'), undefined);
  });

  const pwdCases: Array<[string, string, string[]]> = [
    ['vsftpd', '257 "/mirror/root/a" is the current directory', ['/mirror/root/a']],
    ['pure-ftpd', '257 "/mirror/outside" is your current location', ['/mirror/outside']],
    ['the root', '257 "/" is the current directory', ['/']],
    ['RFC 959: a doubled quote (or two, as pure-ftpd sends them)', '257 "/a ""b"" c" created', ['/a ""b"" c', '/a "b" c']],
    ['pure-ftpd: a quote not doubled', '257 "/d/qu\'o"te.d" is your current location', ['/d/qu\'o"te.d']],
    ['a name ending in a quote', '257 "/d/x"" is your current location', ['/d/x"']],
    ['spaces and accents', '257 "/d/accénts ñ/x y" is the current directory', ['/d/accénts ñ/x y']],
    ['trailing CRLF', '257 "/x"\r\n', ['/x']],
    ['no quotes', '257 /x is the current directory', []],
    ['another reply', '550 Failed to get directory', []],
  ];
  for (const [name, reply, dirs] of pwdCases) {
    it(`reads the directory of a PWD reply: ${name}`, () => assert.deepEqual(directoriesFromPwd(reply), dirs));
  }
});
