/**
 * The original script's settings file, unchanged, through the real CLI: instance named after
 * the file, PID_FILE / LOG_FILE / IS_DEBUG honoured, the same refusals, the FTP target it maps
 * to (against a real pure-ftpd when installed), and `--target` to try it on a local folder.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FTP_TEST_PASSWORD } from '../servers/ftp-common.ts';
import { startPureFtpd } from '../servers/pure-ftpd.ts';
import { runCli, sleep, tempDir, waitForSame, type RunResult } from './harness.ts';

function ok(r: RunResult, what: string): RunResult {
  assert.equal(r.code, 0, `${what} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

function readAll(dir: string): string {
  if (!existsSync(dir)) return '';
  return readdirSync(dir)
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
}

async function waitUntil(what: string, fn: () => boolean, timeoutMs = 20_000, detail: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${detail()}`);
    await sleep(50);
  }
}

/** An original settings file (in the script's own style) in a temp folder. */
function legacySetup(label: string, settings: (root: string) => string) {
  const t = tempDir(`legacy-${label}`);
  const src = join(t.path, 'src');
  mkdirSync(src);
  const name = `ftp-inotify-${label}-${process.pid}`;
  const file = join(t.path, `${name}.py`);
  writeFileSync(file, settings(t.path));
  const args = ['-c', file, '--state', join(t.path, 'state.db')];
  return {
    root: t.path,
    src,
    name,
    file,
    args,
    async cleanup() {
      await runCli(['stop', ...args]).catch(() => undefined);
      t.cleanup();
    },
  };
}

const SECRET = 'Legacy-Pass-73x!';

function settings(root: string, ftp: { host: string; port: number; user: string; pass: string }, extra = ''): string {
  return `#!/usr/bin/python2.7
# -*- coding: utf-8 -*-
import os

IS_DEBUG = False
PID_FILE = '${root}/run/ftp-inotify.pid'
LOG_FILE = '${root}/log/'
WATCH_PATH = '${root}/src'
UPLOAD_FTP_HOST = '${ftp.host}'
UPLOAD_FTP_PORT = ${ftp.port}
UPLOAD_FTP_USER = '${ftp.user}'
UPLOAD_FTP_PASS = '${ftp.pass}'
FILE_TYPES = ''
FILE_EXTENSIONS = ''
${extra}
def main():
    pass
`;
}

describe('e2e: the original settings file', { concurrency: 1 }, () => {
  it('runs as an instance named after the file; --target mirrors it to a local folder', async () => {
    const s = legacySetup('local', (root) => settings(root, { host: '127.0.0.1', port: 1, user: 'deploy', pass: SECRET }));
    try {
      mkdirSync(join(s.src, 'css'));
      writeFileSync(join(s.src, 'index.html'), '<h1>hi</h1>\n');
      writeFileSync(join(s.src, 'css', 'site.css'), 'h1{}\n');
      const dst = join(s.root, 'dst');
      const started = ok(await runCli(['--start', ...s.args, '--target', dst]), '--start');
      assert.match(started.stdout, new RegExp(`^${s.name}: started \\(pid \\d+\\); log ${s.root}/log/daily.log; pid file ${s.root}/run/ftp-inotify.pid`, 'm'));
      await waitForSame(s.src, dst, 20_000);
      writeFileSync(join(s.src, 'later.txt'), 'while watching');
      await waitForSame(s.src, dst, 20_000);
      const status = ok(await runCli(['status', ...s.args]), 'status');
      assert.match(status.stdout, new RegExp(`^${s.name}: running`));
      ok(await runCli(['--stop', ...s.args]), '--stop');
      assert.ok(!existsSync(join(s.root, 'run', 'ftp-inotify.pid')));
      const log = readAll(join(s.root, 'log'));
      assert.match(log, /put \\"later.txt\\"/);
      assert.ok(!log.includes(SECRET));
    } finally {
      await s.cleanup();
    }
  });

  it('maps to its FTP target: unreachable server → retrying, with IS_DEBUG the detail in daily.log.debug, no password anywhere', async () => {
    const s = legacySetup('unreachable', (root) => settings(root, { host: '127.0.0.1', port: 1, user: 'deploy', pass: SECRET }).replace('IS_DEBUG = False', 'IS_DEBUG = True'));
    try {
      writeFileSync(join(s.src, 'a.txt'), 'a');
      const out = [ok(await runCli(['start', ...s.args]), 'start')];
      const debugLog = join(s.root, 'log', 'daily.log.debug');
      await waitUntil('the target to be reported unavailable', () => existsSync(debugLog) && readFileSync(debugLog, 'utf8').includes('target unavailable'), 30_000);
      const status = ok(await runCli(['status', ...s.args]), 'status');
      assert.match(status.stdout, /→ ftp:\/\/deploy@127\.0\.0\.1:1\n/);
      assert.match(status.stdout, /state +retrying: /);
      out.push(status, ok(await runCli(['status', '--json', ...s.args]), 'status --json'), ok(await runCli(['stop', ...s.args]), 'stop'));
      assert.deepEqual(readdirSync(join(s.root, 'log')), ['daily.log.debug']);
      const everything = readAll(join(s.root, 'log')) + out.map((r) => r.stdout + r.stderr).join('\n');
      assert.match(everything, /"level":"debug"/);
      assert.ok(!everything.includes(SECRET), 'the password leaked');
    } finally {
      await s.cleanup();
    }
  });

  it('refuses a file without WATCH_PATH or FTP settings, as the original did', async () => {
    const t = tempDir('legacy-refuse');
    try {
      const noWatch = join(t.path, 'no-watch.py');
      writeFileSync(noWatch, `UPLOAD_FTP_HOST = 'h'\nUPLOAD_FTP_PORT = 21\nUPLOAD_FTP_USER = 'u'\nUPLOAD_FTP_PASS = '${SECRET}'\n`);
      const noFtp = join(t.path, 'no-ftp.py');
      writeFileSync(noFtp, `WATCH_PATH = '${t.path}'\nUPLOAD_FTP_PASS = '${SECRET}'\n`);
      for (const cmd of ['start', 'run', 'once']) {
        const a = await runCli([cmd, '-c', noWatch]);
        assert.equal(a.code, 2, `${cmd}: ${a.stderr}`);
        assert.match(a.stderr, /WATCH_PATH is not set; it must name the folder to watch/);
        const b = await runCli([cmd, '-c', noFtp]);
        assert.equal(b.code, 2, `${cmd}: ${b.stderr}`);
        assert.match(b.stderr, /UPLOAD_FTP_HOST, UPLOAD_FTP_USER are not set; the FTP server must be defined/);
        assert.ok(!(a.stderr + b.stderr + a.stdout + b.stdout).includes(SECRET));
      }
    } finally {
      t.cleanup();
    }
  });

  it('mirrors to a real FTP server (pure-ftpd) exactly as configured', async (ctx) => {
    const server = await startPureFtpd();
    if (!server) {
      ctx.skip('pure-ftpd is not installed');
      return;
    }
    const s = legacySetup('ftp', (root) => settings(root, { host: server.host, port: server.port, user: server.user, pass: server.password }));
    try {
      mkdirSync(join(s.src, 'img', 'deep'), { recursive: true });
      writeFileSync(join(s.src, 'index.html'), '<h1>ftp</h1>\r\n');
      writeFileSync(join(s.src, 'img', 'deep', 'pixel.bin'), Buffer.from([0, 13, 10, 255, 10]));
      ok(await runCli(['start', ...s.args]), 'start');
      await waitForSame(s.src, server.rootDir, 30_000);
      writeFileSync(join(s.src, 'img', 'new.txt'), 'added while watching\n');
      await waitForSame(s.src, server.rootDir, 30_000);
      ok(await runCli(['stop', ...s.args]), 'stop');
      const log = readAll(join(s.root, 'log'));
      assert.match(log, /put \\"img\/new.txt\\"/);
      assert.ok(!log.includes(FTP_TEST_PASSWORD), 'the FTP password leaked into the log');
    } finally {
      await s.cleanup();
      await server.cleanup();
    }
  });
});
