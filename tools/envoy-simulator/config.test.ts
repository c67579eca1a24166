/**
 * Bootstrap loading and validation as a supervisor sees it: `--mode validate`, and the
 * `error initializing configuration` path of a serving process (`InstanceImpl::initialize` in
 * `source/server/server.cc`, `source/server/config_validation/server.cc`; docs/envoy-process.md,
 * "Bootstrap loading").
 */
import { readdirSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { adminAddress, bootstrapYaml, Lab, request } from './test-harness.js';

let lab: Lab;
beforeEach(() => {
  lab = new Lab();
});
afterEach(async () => {
  await lab.cleanup();
});

async function validate(args: string[]) {
  const sim = lab.spawn(['--mode', 'validate', ...args]);
  const status = await sim.waitForExit();
  return { status, stdout: sim.stdout, stderr: sim.stderr };
}

describe('--mode validate', () => {
  it('prints OK on stdout, exits 0, and touches no socket or shared memory', async () => {
    const config = lab.write('good.yaml', bootstrapYaml({ xds: true }));
    const r = await validate(['-c', config, ...lab.hotRestartArgs(0)]);
    expect(r.status).toEqual({ code: 0, signal: null });
    expect(r.stdout).toBe(`configuration '${config}' OK\n`);
    expect(readdirSync(lab.dir).filter((f) => f.startsWith('envoy_shared_memory'))).toEqual([]);
    // The same base id is free for a serving process: validate bound nothing.
    const serving = lab.spawn(['-c', config, ...lab.hotRestartArgs(0)]);
    await serving.waitForStderr('starting main dispatch loop');
  });

  it('reads JSON for any extension other than .yaml/.yml', async () => {
    const config = lab.write(
      'bootstrap.conf',
      JSON.stringify({ admin: { address: { socket_address: { address: '::1', port_value: 0 } } } }),
    );
    const r = await validate(['-c', config]);
    expect(r.status.code).toBe(0);
    const yamlInJson = lab.write('bootstrap.json', 'admin: {}\n');
    const bad = await validate(['-c', yamlInJson]);
    expect(bad.status.code).toBe(1);
    expect(bad.stderr).toContain(
      `error initializing configuration '${yamlInJson}': Unable to parse JSON as proto (INVALID_ARGUMENT:`,
    );
  });

  it('rejects an unknown field with the critical log only, exit 1', async () => {
    const config = lab.write('unknown.yaml', `${bootstrapYaml()}no_such_field: 1\n`);
    const r = await validate(['-c', config]);
    expect(r.status).toEqual({ code: 1, signal: null });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /\[critical\]\[main\] \[\S+\] error initializing configuration '.*unknown\.yaml': Protobuf message \(type envoy\.config\.bootstrap\.v3\.Bootstrap reason INVALID_ARGUMENT:no_such_field: Cannot find field\.\) has unknown fields\n$/,
    );
  });

  it('lets unknown fields through with --allow-unknown-static-fields, with a warning', async () => {
    const config = lab.write('unknown.yaml', `${bootstrapYaml()}no_such_field: 1\n`);
    const r = await validate(['-c', config, '--allow-unknown-static-fields']);
    expect(r.status.code).toBe(0);
    expect(r.stderr).toContain('[warning][misc]');
    expect(r.stderr).toContain(
      'Unknown field: type envoy.config.bootstrap.v3.Bootstrap reason INVALID_ARGUMENT:no_such_field',
    );
  });

  it('rejects v2 @type URLs, which modern Envoy no longer links', async () => {
    const config = lab.write(
      'v2.yaml',
      `${bootstrapYaml()}static_resources:\n  listeners:\n  - name: l\n    address: {socket_address: {address: 0.0.0.0, port_value: 8080}}\n    filter_chains:\n    - filters:\n      - name: envoy.http_connection_manager\n        typed_config:\n          "@type": type.googleapis.com/envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager\n`,
    );
    const r = await validate(['-c', config]);
    expect(r.status.code).toBe(1);
    expect(r.stderr).toContain(
      '(static_resources.listeners[0].filter_chains[0].filters[0].typed_config): invalid value Invalid type URL, unknown type: envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager for type Any',
    );
  });

  it('enforces the admin address constraints', async () => {
    const config = lab.write(
      'port.yaml',
      'admin: {address: {socket_address: {address: 127.0.0.1, port_value: 70000}}}\n',
    );
    const r = await validate(['-c', config]);
    expect(r.status.code).toBe(1);
    expect(r.stderr).toContain(
      'SocketAddressValidationError.PortValue: value must be less than or equal to 65535',
    );
    const host = lab.write(
      'host.yaml',
      'admin: {address: {socket_address: {address: localhost, port_value: 15000}}}\n',
    );
    const byName = await validate(['-c', host]);
    expect(byName.stderr).toContain('malformed IP address: localhost.');
  });

  it('needs node id and cluster when ADS is configured (or --service-node/--service-cluster)', async () => {
    const config = lab.write('ads.yaml', bootstrapYaml({ xds: true }).replace(/^node: .*\n/, ''));
    const r = await validate(['-c', config]);
    expect(r.status.code).toBe(1);
    expect(r.stderr).toContain("ads: node 'id' and 'cluster' are required.");
    const ok = await validate(['-c', config, '--service-node', 'n', '--service-cluster', 'c']);
    expect(ok.status.code).toBe(0);
  });

  it('reports a missing file', async () => {
    const r = await validate(['-c', lab.path('nope.yaml')]);
    expect(r.status.code).toBe(1);
    expect(r.stderr).toContain(`unable to read file: ${lab.path('nope.yaml')}`);
  });
});

describe('serving with a bad bootstrap', () => {
  it('logs the critical line and exiting, prints the reason again, exits 1', async () => {
    const config = lab.write('bad.json', '{"admin": ');
    const sim = lab.spawn(['-c', config, ...lab.hotRestartArgs(0)]);
    const status = await sim.waitForExit();
    expect(status).toEqual({ code: 1, signal: null });
    const lines = sim.stderr.replace(/\n$/, '').split('\n');
    expect(lines.at(-3)).toMatch(
      /\[critical\]\[main\] .*error initializing configuration '.*bad\.json': Unable to parse JSON as proto/,
    );
    expect(lines.at(-2)).toMatch(/\[info\]\[main\] .* exiting$/);
    expect(lines.at(-1)).toMatch(/^Unable to parse JSON as proto \(INVALID_ARGUMENT:.*\): \{"admin": $/);
  });
});

describe('--config-yaml', () => {
  it('merges over the file: scalars override, lists append', async () => {
    const config = lab.write('b.yaml', bootstrapYaml({ extra: 'node_context_params: [a]' }));
    const sim = lab.spawn([
      '-c',
      config,
      '--config-yaml',
      '{"node": {"id": "override-id"}, "node_context_params": ["b"]}',
      '--admin-address-path',
      lab.path('admin.addr'),
      '--disable-hot-restart',
    ]);
    const address = await adminAddress(lab);
    const info = JSON.parse((await request(address, 'GET', '/server_info')).body) as {
      node: { id: string; cluster: string };
    };
    expect(info.node.id).toBe('override-id');
    expect(info.node.cluster).toBe('app.default');
    const dump = JSON.parse((await request(address, 'GET', '/config_dump')).body) as {
      configs: { bootstrap?: { node_context_params?: string[] } }[];
    };
    expect(dump.configs[0]?.bootstrap?.node_context_params).toEqual(['a', 'b']);
    sim.signal('SIGTERM');
    expect((await sim.waitForExit()).code).toBe(0);
  });

  it('works alone, with an empty config path in the messages', async () => {
    const r = await validate([
      '--config-yaml',
      'admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}',
    ]);
    expect(r.stdout).toBe("configuration '' OK\n");
  });
});
