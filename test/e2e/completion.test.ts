/**
 * `sync-inotify completion bash|zsh` and `help config`, through the real CLI: the scripts load
 * in the real shells, and the commands and options they offer are those `--help` lists (both
 * come from commander's tree, so a new command or option cannot be missing from one).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { serverMissing } from '../helpers/server-required.ts';
import { runCli, tempDir } from './harness.ts';

/** Command names in `--help`'s Commands section. */
function commandsIn(help: string): string[] {
  const start = help.indexOf('Commands:');
  const end = help.indexOf('\n\n', start);
  const section = help.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]!);
}

/** Long options in a `--help` text. */
function longOptionsIn(help: string): string[] {
  return [...new Set([...help.matchAll(/(?:^|[\s,])(--[a-z][a-z-]*)/gm)].map((m) => m[1]!))];
}

describe('e2e: shell completion and help config', () => {
  it('bash: offers every command and each command\'s options as --help lists them; files after -c', async () => {
    const script = await runCli(['completion', 'bash']);
    assert.equal(script.code, 0, script.stderr);
    const t = tempDir('completion');
    try {
      writeFileSync(join(t.path, 'c.bash'), script.stdout);
      writeFileSync(join(t.path, 'site.yaml'), 'syncs: []\n');
      const ask = (...words: string[]) => {
        const r = spawnSync('bash', ['-c', `source ${join(t.path, 'c.bash')}; COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _sync_inotify; printf '%s\\n' "\${COMPREPLY[@]}"`, 'bash', 'sync-inotify', ...words], { cwd: t.path, encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        return r.stdout.split('\n').filter((l) => l !== '');
      };
      const help = (await runCli(['--help'])).stdout;
      const commands = commandsIn(help);
      assert.ok(commands.includes('once') && commands.includes('completion') && commands.includes('help'), `commands in --help: ${commands.join(' ')}`);
      assert.deepEqual(ask('').filter((w) => !w.startsWith('-')).sort(), [...commands].sort());
      for (const cmd of ['once', 'status', 'stop', 'run']) {
        const options = longOptionsIn((await runCli([cmd, '--help'])).stdout);
        assert.deepEqual(ask(cmd, '--').sort(), options.sort(), `${cmd} --<TAB>`);
      }
      assert.deepEqual(ask('once', '-c', 'si'), ['site.yaml'], 'a config file name after -c');
      assert.deepEqual(ask('once', '--connections', ''), [], 'nothing to offer for a count');
      assert.deepEqual(ask('completion', ''), ['bash', 'zsh']);
      assert.deepEqual(ask('help', 'co'), ['config']);
    } finally {
      t.cleanup();
    }
  });

  it('zsh: the script parses and registers itself with compinit', async (t) => {
    const probe = spawnSync('zsh', ['--version']);
    if (probe.error || probe.status !== 0) return void t.skip(serverMissing('zsh', 'not installed'));
    const script = await runCli(['completion', 'zsh']);
    assert.equal(script.code, 0, script.stderr);
    const dir = tempDir('completion-zsh');
    try {
      const file = join(dir.path, '_sync-inotify');
      writeFileSync(file, script.stdout);
      const syntax = spawnSync('zsh', ['-n', file], { encoding: 'utf8' });
      assert.equal(syntax.status, 0, syntax.stderr);
      const loaded = spawnSync('zsh', ['-f', '-c', `autoload -Uz compinit; compinit -u -d ${join(dir.path, 'zcompdump')}; source ${file}; print -r -- \${_comps[sync-inotify]}`], { encoding: 'utf8' });
      assert.equal(loaded.stdout.trim(), '_sync_inotify', loaded.stderr);
      for (const cmd of commandsIn((await runCli(['--help'])).stdout)) assert.match(script.stdout, new RegExp(`^    '${cmd}:`, 'm'), `${cmd} is not offered`);
      for (const opt of longOptionsIn((await runCli(['once', '--help'])).stdout)) assert.ok(script.stdout.includes(opt), `${opt} is not offered`);
    } finally {
      dir.cleanup();
    }
  });

  it('help config prints the configuration keys; an unknown topic or shell is a usage error', async () => {
    const r = await runCli(['help', 'config']);
    assert.equal(r.code, 0, r.stderr);
    for (const key of ['debounceMs:', 'syncs:', 'maxDelete:', 'connections:', 'secretAccessKey:']) assert.ok(r.stdout.includes(key), `${key} missing`);
    assert.match((await runCli(['help', 'once'])).stdout, /--allow-delete/);
    const bad = await runCli(['help', 'nonsense']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /no help on "nonsense": try help config/);
    const shell = await runCli(['completion', 'fish']);
    assert.equal(shell.code, 2);
    assert.match(shell.stderr, /use bash or zsh/);
  });
});
