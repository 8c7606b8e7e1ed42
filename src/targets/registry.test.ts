import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TargetError } from './errors.ts';
import { BACKENDS, createTarget, PATH_KEYS, SECRET_FILE_KEYS, SECRET_KEYS, targetsHelp, type TargetSpec } from './registry.ts';

function configError(spec: TargetSpec): string {
  try {
    createTarget(spec);
  } catch (err) {
    assert.ok(err instanceof TargetError && err.code === 'E_CONFIG', String(err));
    return err.message;
  }
  assert.fail(`${JSON.stringify(spec)} was accepted`);
}

describe('backend declarations', () => {
  const refused: [spec: TargetSpec, message: RegExp][] = [
    [{ url: 'ftp://u@h/', identityFile: '/k' }, /key "identityFile" does not apply to FTP\/FTPS \(it is a key of SFTP, rsync\): remove it/],
    [{ url: 'sftp://u@h/x', tls: 'explicit' }, /key "tls" does not apply to SFTP \(it is a key of FTP\/FTPS\)/],
    [{ url: '/tmp/x', password: 'p' }, /key "password" does not apply to a local folder \(it is a key of FTP\/FTPS, SFTP, WebDAV, rsync\)/],
    [{ url: 'ftp://u@h/', connections: 0 }, /connections: /],
    [{ url: 'sftp://u@h/', connections: 65 }, /connections: at most 64/],
    [{ url: 'ftp://u@h/', timeoutMs: 5 }, /timeoutMs: at least 100 ms/],
    [{ url: 'sftp://u@h/', hostKey: 'MD5:xx' }, /hostKey: must look like SHA256/],
    [{ url: 'gopher://h/' }, /scheme gopher:\/\/ is not supported: use one of file:\/\/, ftp:\/\/, ftps:\/\/, sftp:\/\/, scp:\/\/, webdav:\/\//],
  ];
  for (const [spec, message] of refused) {
    it(`refuses ${JSON.stringify(spec)}`, () => assert.match(configError(spec), message));
  }

  it('a refusal never shows a password written in the URL', () => {
    assert.doesNotMatch(configError({ url: 'ftp://u:hunter2@h/', identityFile: '/k' }), /hunter2/);
  });

  it('applies the declared defaults', () => {
    assert.equal(createTarget({ url: '/tmp/x' }).maxInFlight, 8);
  });

  it('secrets, secret files and paths come from the declarations', () => {
    assert.deepEqual([...SECRET_KEYS].sort(), ['accessKeyId', 'headers', 'passphrase', 'password', 'secretAccessKey']);
    assert.deepEqual([...SECRET_FILE_KEYS].sort(), ['passphraseFile', 'passwordFile', 'secretAccessKeyFile']);
    assert.deepEqual([...PATH_KEYS].sort(), ['ca', 'identityFile', 'knownHosts', 'passphraseFile', 'passwordFile', 'secretAccessKeyFile']);
  });

  it('--help lists every key of every backend', () => {
    const help = targetsHelp();
    for (const b of BACKENDS) {
      assert.ok(help.includes(b.urlForm));
      for (const key of Object.keys(b.options)) assert.match(help, new RegExp(`\\b${key}\\b`));
    }
  });
});
