import { describe, expect, it } from 'vitest';
import { COMMAND_FLAGS, defaultText, type FlagSpec, LOG_FLAGS } from '../../src/config/flags.js';
import { runMain } from './helpers.js';

function expectEveryFlag(text: string, table: Readonly<Record<string, FlagSpec>>): void {
  // commander wraps descriptions; compare with the line breaks folded.
  const help = text.replace(/\s+/g, ' ');
  for (const [name, spec] of Object.entries(table)) {
    expect(help, name).toMatch(new RegExp(`--${name} (\\[bool\\]|<${spec.type}>)`));
    const zero = spec.default === '' || spec.default === 0 || spec.default === false;
    if (!zero) expect(help, name).toContain(`(default: ${defaultText(spec)})`);
  }
}

describe('--help', () => {
  it('root lists the commands and the logging flags', async () => {
    const { code, stdout } = await runMain(['--help']);
    expect(code).toBe(0);
    for (const command of ['proxy', 'version', 'wait', 'request'])
      expect(stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    expectEveryFlag(stdout, LOG_FLAGS);
  });

  it.each(['proxy', 'version', 'wait', 'request'] as const)(
    '%s lists every flag with its default',
    async (command) => {
      for (const helpFlag of ['--help', '-h', '-help']) {
        const { code, stdout, stderr } = await runMain([command, helpFlag]);
        expect(code).toBe(0);
        expect(stderr).toBe('');
        expect(stdout).toContain(`Usage: pilot-agent ${command}`);
        expectEveryFlag(stdout, COMMAND_FLAGS[command]);
        // Root flags are persistent in Istio: shown as global options of every command.
        expect(stdout).toContain('Global Options:');
        expectEveryFlag(stdout, LOG_FLAGS);
      }
    },
  );

  it('marks unimplemented and non-Istio flags', async () => {
    const { stdout } = await runMain(['proxy', '--help']);
    expect(stdout).toMatch(
      /--stsPort <int>\s+Port of the Security Token Service; 0 disables it \[accepted for\s+compatibility, not implemented\]/,
    );
    expect(stdout).toMatch(/--restartBudget <int>[\s\S]*?\[not in Istio\]/);
  });

  it('answers "help <command>" too', async () => {
    const { code, stdout } = await runMain(['help', 'wait']);
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: pilot-agent wait');
  });

  it('does not run the command when --help is given', async () => {
    let ran = false;
    const { code } = await runMain(['proxy', 'router', '--help'], {
      runProxy: async () => {
        ran = true;
        return { exitCode: 0, reason: '' };
      },
    });
    expect(code).toBe(0);
    expect(ran).toBe(false);
  });
});
