import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { legacyName, legacyToConfig, looksLikeLegacy, parseLegacyValues } from './legacy.ts';

const ORIGINAL = `#!/usr/bin/python2.7
# -*- coding: utf-8 -*-
import os, sys
IS_DEBUG = False
PID_FILE = '/var/run/ftp-inotify.pid'
LOG_FILE = None
WATCH_PATH = '/srv/www'   # the folder to watch
UPLOAD_FTP_HOST = "ftp.example.com"
UPLOAD_FTP_PORT = 2121
UPLOAD_FTP_USER = 'deploy user'
UPLOAD_FTP_PASS = 'p@ss:w/rd#1'
FILE_TYPES = 'image, text'
FILE_EXTENSIONS = '.jpg,png, css'

def main():
    if len(sys.argv) > 1:
        pass
`;

describe('the original settings file', () => {
  it('is told apart from YAML', () => {
    assert.equal(looksLikeLegacy(ORIGINAL), true);
    assert.equal(looksLikeLegacy('name: site\nsyncs:\n  - source: /a\n    targets: [{url: /b}]\n'), false);
  });

  it('maps to one sync with an FTP target; the password is a key, never in the URL', () => {
    const c = legacyToConfig(ORIGINAL, '/etc/sync/ftp-inotify.py');
    assert.equal(c.name, 'ftp-inotify');
    assert.equal(c.debug, false);
    assert.equal(c.pidFile, '/var/run/ftp-inotify.pid');
    assert.equal(c.log, 'terminal');
    assert.equal(c.syncs.length, 1);
    const s = c.syncs[0]!;
    assert.equal(s.source, '/srv/www');
    assert.deepEqual(s.fileTypes, ['image', 'text']);
    assert.deepEqual(s.extensions, ['jpg', 'png', 'css']);
    assert.deepEqual(s.targets, [{ url: 'ftp://deploy%20user@ftp.example.com:2121/', password: 'p@ss:w/rd#1' }]);
    assert.ok(!s.targets[0]!.url.includes('p@ss'));
  });

  it('defaults: port 21, logs and pid file as the original, all files', () => {
    const c = legacyToConfig(`WATCH_PATH = 'www'\nUPLOAD_FTP_HOST = 'h'\nUPLOAD_FTP_USER = 'u'\nUPLOAD_FTP_PASS = ''\nFILE_TYPES = ''\n`, '/etc/site.conf');
    assert.equal(c.name, 'site');
    assert.equal(c.syncs[0]!.source, '/etc/www', 'relative to the settings file');
    assert.equal(c.syncs[0]!.targets[0]!.url, 'ftp://u@h:21/');
    assert.equal(c.syncs[0]!.targets[0]!.password, '');
    assert.equal(c.syncs[0]!.fileTypes, undefined);
    assert.equal(c.log, undefined);
    assert.equal(c.pidFile, undefined);
    assert.equal(c.debug, undefined);
  });

  it('IS_DEBUG = True, LOG_FILE as a folder, IPv6 host', () => {
    const c = legacyToConfig(`IS_DEBUG = True\nLOG_FILE = '/var/log/x/'\nWATCH_PATH = '/a'\nUPLOAD_FTP_HOST = '::1'\nUPLOAD_FTP_USER = 'u'\nUPLOAD_FTP_PASS = 'p'\n`, '/x/x.py');
    assert.equal(c.debug, true);
    assert.equal(c.log, '/var/log/x/');
    assert.equal(c.syncs[0]!.targets[0]!.url, 'ftp://u@[::1]:21/');
  });

  it('reads Python string literals', () => {
    const v = parseLegacyValues(`WATCH_PATH = r'C:\\dir'\nUPLOAD_FTP_PASS = "it's \\"q\\""\nUPLOAD_FTP_USER = u'\\u00e9'\n`, 'f');
    assert.equal(v.get('WATCH_PATH'), 'C:\\dir');
    assert.equal(v.get('UPLOAD_FTP_PASS'), 'it\'s "q"');
  });

  const refusals: [string, string, RegExp][] = [
    ['missing WATCH_PATH', `UPLOAD_FTP_HOST = 'h'\nUPLOAD_FTP_USER = 'u'\nUPLOAD_FTP_PASS = 'p'\n`, /WATCH_PATH is not set/],
    ['empty WATCH_PATH', `WATCH_PATH = ''\nUPLOAD_FTP_HOST = 'h'\nUPLOAD_FTP_USER = 'u'\nUPLOAD_FTP_PASS = 'p'\n`, /WATCH_PATH is not set/],
    ['missing FTP settings', `WATCH_PATH = '/a'\nUPLOAD_FTP_PORT = 21\n`, /UPLOAD_FTP_HOST, UPLOAD_FTP_USER, UPLOAD_FTP_PASS are not set; the FTP server must be defined/],
    ['bad port', `WATCH_PATH = '/a'\nUPLOAD_FTP_HOST = 'h'\nUPLOAD_FTP_PORT = 'x'\nUPLOAD_FTP_USER = 'u'\nUPLOAD_FTP_PASS = 'p'\n`, /UPLOAD_FTP_PORT must be a port number/],
    ['unknown type', `WATCH_PATH = '/a'\nUPLOAD_FTP_HOST = 'h'\nUPLOAD_FTP_USER = 'u'\nUPLOAD_FTP_PASS = 'p'\nFILE_TYPES = 'imag'\n`, /FILE_TYPES: "imag" is not a top-level media type/],
    ['an expression', `WATCH_PATH = os.path.join('/a', 'b')\n`, /line 1: cannot read the value of WATCH_PATH/],
    ['a typo', `WATCH_PATH = '/a'\nUPLOAD_FTP_PAS = 'p'\n`, /line 2: unknown setting UPLOAD_FTP_PAS; did you mean UPLOAD_FTP_PASS\?/],
  ];
  for (const [name, text, re] of refusals) {
    it(`refuses: ${name}`, () => {
      assert.throws(
        () => legacyToConfig(text, '/etc/f.py'),
        (err: Error) => {
          assert.match(err.message, re);
          return true;
        },
      );
    });
  }

  it('never puts the password in an error', () => {
    const text = `WATCH_PATH = '/a'\nUPLOAD_FTP_HOST = 'h'\nUPLOAD_FTP_USER = 'u'\nUPLOAD_FTP_PASS = 'VerySecret99'\nFILE_TYPES = 'nope'\n`;
    assert.throws(() => legacyToConfig(text, '/etc/f.py'), (err: Error) => !err.message.includes('VerySecret99'));
  });

  it('names instances after the file', () => {
    assert.equal(legacyName('/usr/local/bin/ftp-inotify.py'), 'ftp-inotify');
    assert.equal(legacyName('/etc/site two.conf'), 'site-two');
    assert.equal(legacyName('/etc/...'), 'sync-inotify');
  });
});
