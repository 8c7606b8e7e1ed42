import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
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

/**
 * "Adding a backend" (docs/architecture.md): a folder, one line in the registry, one
 * conformance file. These tests fail when a backend needs more than that or less.
 */
describe('a backend is one folder', () => {
  const targetsDir = dirname(fileURLToPath(import.meta.url));
  const srcDir = dirname(targetsDir);
  const repo = dirname(srcDir);
  const folders = readdirSync(targetsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(targetsDir, d.name, 'backend.ts')))
    .map((d) => d.name);

  it('every folder with a backend.ts is in BACKENDS, and every backend in BACKENDS comes from one', async () => {
    assert.ok(folders.length >= 6, folders.join());
    const found = new Set<unknown>();
    for (const folder of folders) {
      const mod = (await import(`./${folder}/backend.ts`)) as Record<string, unknown>;
      const registered = Object.values(mod).filter((v) => BACKENDS.includes(v as (typeof BACKENDS)[number]));
      assert.equal(registered.length, 1, `${folder}/backend.ts should export one declaration listed in registry.ts`);
      found.add(registered[0]);
    }
    assert.equal(found.size, BACKENDS.length, 'a backend in BACKENDS that has no folder of its own');
  });

  for (const b of BACKENDS) {
    it(`${b.name} declares everything`, () => {
      assert.ok(b.name.length > 0);
      assert.ok(b.schemes.length > 0);
      for (const scheme of b.schemes) {
        assert.match(scheme, /^[a-z][a-z0-9+.-]*$/, `scheme ${scheme}`);
        assert.equal(BACKENDS.filter((o) => o.schemes.includes(scheme)).length, 1, `scheme ${scheme} is taken by one backend only`);
      }
      assert.ok(b.urlForm.length > 0);
      assert.equal(typeof b.create, 'function');
      for (const [key, o] of Object.entries(b.options)) {
        assert.equal(typeof o.schema.safeParse, 'function', `${b.name} ${key}: a zod schema`);
        assert.ok(o.help.length > 10, `${b.name} ${key}: a help line`);
      }
      for (const [key, value] of Object.entries(b.defaults ?? {})) {
        const option = b.options[key];
        assert.ok(option !== undefined, `${b.name}: a default for "${key}", which it does not take`);
        assert.ok(option.schema.safeParse(value).success, `${b.name}: its default for "${key}" fails its own schema`);
      }
    });
  }

  it('nothing under src/ but the registry imports a backend folder from outside it', () => {
    // Reuse between backends, each a conscious choice: rsync over SSH takes SFTP's key and
    // host-key options and its known_hosts rules, so the two never disagree on a host.
    const reuse = new Set(['src/targets/rsync/options.ts imports ../sftp/options.ts', 'src/targets/rsync/ssh-host.ts imports ../sftp/known-hosts.ts']);
    const offenders: string[] = [];
    const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(join(dir, d.name)) : d.name.endsWith('.ts') && !d.name.endsWith('.test.ts') ? [join(dir, d.name)] : []));
    for (const file of walk(srcDir)) {
      if (file === join(targetsDir, 'registry.ts')) continue;
      for (const m of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
        const imported = resolve(dirname(file), m[1]!);
        const folder = folders.find((f) => imported.startsWith(join(targetsDir, f) + sep));
        const line = `${relative(repo, file)} imports ${m[1]}`;
        if (folder !== undefined && !file.startsWith(join(targetsDir, folder) + sep) && !reuse.has(line)) offenders.push(line);
      }
    }
    assert.deepEqual(offenders, []);
  });

  it('every backend folder has a conformance file that builds it through the registry', () => {
    for (const folder of folders) {
      const file = join(repo, 'test', 'conformance', `${folder}.test.ts`);
      assert.ok(existsSync(file), `missing test/conformance/${folder}.test.ts`);
      assert.match(readFileSync(file, 'utf8'), /createTarget\(/, `test/conformance/${folder}.test.ts builds its target with createTarget`);
    }
  });
});

