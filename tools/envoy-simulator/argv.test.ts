/**
 * The simulated Envoy's command line, seen from a supervisor: which argv it accepts, what it
 * prints where, and its exit codes (TCLAP and `source/server/options_impl.cc`; docs/envoy-process.md,
 * "Command line").
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bootstrapYaml, Lab } from './test-harness.js';

let lab: Lab;
beforeEach(() => {
  lab = new Lab();
});
afterEach(async () => {
  await lab.cleanup();
});

/** Runs the simulator to completion. */
async function run(args: string[], env: Record<string, string> = {}) {
  const sim = lab.spawn(args, env);
  const status = await sim.waitForExit();
  return { status, stdout: sim.stdout, stderr: sim.stderr };
}

describe('informational flags', () => {
  it('--version prints the TCLAP version block on stdout and exits 0', async () => {
    const r = await run(['--version']);
    expect(r.status).toEqual({ code: 0, signal: null });
    expect(r.stdout).toMatch(
      /^\n\S*envoy {2}version: [0-9a-f]{40}\/1\.\d+\.\d+\/Clean\/RELEASE\/BoringSSL\n\n$/,
    );
    expect(r.stderr).toBe('');
  });

  it('--help prints usage on stdout and exits 0, even before a later bad flag', async () => {
    const r = await run(['--help', '--no-such-flag']);
    expect(r.status.code).toBe(0);
    expect(r.stdout).toContain('USAGE: ');
    expect(r.stdout).toContain('--restart-epoch <uint32_t>');
    expect(r.stdout).toContain('-c <string>,  --config-path <string>');
  });

  it('--hot-restart-version prints 11.104 on stderr without a newline', async () => {
    const r = await run(['--hot-restart-version']);
    expect(r.status.code).toBe(0);
    expect(r.stderr).toBe('11.104');
    expect(r.stdout).toBe('');
    const disabled = await run(['--hot-restart-version', '--disable-hot-restart']);
    expect(disabled.stderr).toBe('disabled');
  });
});

describe('TCLAP parse errors', () => {
  it('rejects the removed --max-obj-name-len with a PARSE ERROR block and exit 1', async () => {
    const r = await run(['-c', 'x.json', '--max-obj-name-len', '189']);
    expect(r.status).toEqual({ code: 1, signal: null });
    expect(r.stderr).toMatch(
      /^PARSE ERROR: Argument: --max-obj-name-len\n {13}Couldn't find match for argument\n\nBrief USAGE: \n/,
    );
    expect(r.stderr).toContain('For complete USAGE and HELP type: \n');
    expect(r.stderr.endsWith("--max-obj-name-len -- Couldn't find match for argument\n")).toBe(true);
  });

  it('does not split --flag=value: Envoy delimits with a space only', async () => {
    const r = await run(['--concurrency=2']);
    expect(r.status.code).toBe(1);
    expect(r.stderr).toContain('PARSE ERROR: Argument: --concurrency=2');
  });

  it('takes the next argument as the value even when it starts with a dash', async () => {
    const config = lab.write('b.yaml', bootstrapYaml());
    const r = await run(['--mode', 'validate', '-c', config, '--log-format', '- %v']);
    expect(r.status.code).toBe(0);
    const bad = await run(['--concurrency', '-l', 'info']);
    expect(bad.status.code).toBe(1);
    expect(bad.stderr).toContain("Couldn't read argument value from string '-l'");
  });

  it('reports a flag given twice, a missing value and an unreadable number', async () => {
    const twice = await run(['-l', 'info', '--log-level', 'debug']);
    expect(twice.stderr).toContain(
      'PARSE ERROR: Argument: -l (--log-level)\n             Argument already set!',
    );
    const missing = await run(['--restart-epoch']);
    expect(missing.stderr).toContain('Missing a value for this argument!');
    const bad = await run(['--base-id', '12abc']);
    expect(bad.stderr).toContain(
      "PARSE ERROR: Argument: (--base-id)\n             Couldn't read argument value from string '12abc'",
    );
    for (const r of [twice, missing, bad]) expect(r.status.code).toBe(1);
  });
});

describe('semantic errors', () => {
  const cases: [string[], string][] = [
    [['--mode', 'foo'], "error: unknown mode 'foo'\n"],
    [['-l', 'verbose'], "error: invalid log level specified 'verbose'\n"],
    [
      ['--component-log-level', 'upstream'],
      "error: component log level not correctly specified 'upstream'\n",
    ],
    [['--component-log-level', 'upstream:loud'], "error: invalid log level specified 'loud'\n"],
    [['--component-log-level', 'nosuch:debug'], "error: invalid component specified 'nosuch'\n"],
    [['--local-address-ip-version', 'v5'], "error: unknown IP address version 'v5'\n"],
    // Upstream bug: the message quotes --mode's value, not the bad strategy.
    [['--drain-strategy', 'slowly'], "error: unknown drain-strategy 'serve'\n"],
    [
      ['--use-dynamic-base-id', '--restart-epoch', '2'],
      'error: cannot use --restart-epoch=2 with --use-dynamic-base-id\n',
    ],
    [['--socket-path', '/tmp/x', '--socket-mode', '9'], "error: invalid socket-mode '9'\n"],
    [['--stats-tag', 'foo'], "error: misformatted stats-tag 'foo'\n"],
  ];
  it.each(cases)('%j → one error line, exit 1', async (args, message) => {
    const r = await run(args);
    expect(r.status).toEqual({ code: 1, signal: null });
    expect(r.stderr).toBe(message);
  });

  it('accepts warn as an alias of warning', async () => {
    const config = lab.write('b.yaml', bootstrapYaml());
    const r = await run([
      '--mode',
      'validate',
      '-c',
      config,
      '-l',
      'warn',
      '--component-log-level',
      'upstream:debug,config:trace',
    ]);
    expect(r.status.code).toBe(0);
  });

  it('needs a config: --config-path or --config-yaml', async () => {
    const r = await run(['--disable-hot-restart']);
    expect(r.status.code).toBe(1);
    expect(r.stderr).toContain(
      "[critical][main] [source/server/server.cc:131] error initializing configuration '': At least one of --config-path or --config-yaml or Options::configProto() should be non-empty",
    );
    expect(
      r.stderr.endsWith(
        'At least one of --config-path or --config-yaml or Options::configProto() should be non-empty\n',
      ),
    ).toBe(true);
  });
});
