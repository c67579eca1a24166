/**
 * Per-epoch bootstrap files: where they go, how they are written (atomically, configPath 0700),
 * `--customConfigFile`, `ISTIO_BOOTSTRAP_OVERRIDE`, cleanup, and every way generation can fail —
 * each a one-line AgentError naming the path, with nothing half-written left in configPath.
 */

import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  bootstrapPath,
  readBootstrapOverride,
  removeBootstrap,
  renderBootstrap,
  writeBootstrap,
} from '../../src/bootstrap/generate.js';
import type { AgentConfig } from '../../src/config/types.js';
import { AgentError } from '../../src/errors.js';
import { type AgentConfigOverrides, makeAgentConfig } from '../helpers/agent-config.js';

let dir: string;
let configPath: string;
let noLabels: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pilot-agent-generate-'));
  configPath = path.join(dir, 'etc', 'istio', 'proxy');
  noLabels = path.join(dir, 'no-labels');
});
afterEach(async () => {
  await chmod(dir, 0o700).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

function config(overrides: AgentConfigOverrides = {}): AgentConfig {
  return makeAgentConfig({ ...overrides, proxy: { configPath, ...overrides.proxy } });
}

async function write(cfg: AgentConfig, epoch = 0): Promise<string> {
  return writeBootstrap(cfg, epoch, { podLabelsPath: noLabels });
}

async function failure(promise: Promise<unknown>, kind: AgentError['kind'] = 'bootstrap'): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AgentError);
  expect((err as AgentError).kind).toBe(kind);
  expect((err as AgentError).message).not.toContain('\n');
  return (err as AgentError).message;
}

/** Entries of configPath, or undefined when it does not exist. */
async function listing(): Promise<string[] | undefined> {
  return readdir(configPath).catch(() => undefined);
}

describe('writeBootstrap', () => {
  it('writes <configPath>/envoy-rev<epoch>.json, creating configPath with mode 0700', async () => {
    const cfg = config();
    const file = await write(cfg, 3);
    expect(file).toBe(path.join(configPath, 'envoy-rev3.json'));
    expect(file).toBe(bootstrapPath(cfg, 3));
    expect(await readFile(file, 'utf8')).toBe(await renderBootstrap(cfg, { podLabelsPath: noLabels }));
    expect((await stat(configPath)).mode & 0o777).toBe(0o700);
    expect(await listing()).toEqual(['envoy-rev3.json']);
  });

  it('replaces the file of a previous run of the same epoch whole', async () => {
    await mkdir(configPath, { recursive: true });
    await writeFile(path.join(configPath, 'envoy-rev0.json'), 'x'.repeat(100_000));
    const file = await write(config());
    expect(JSON.parse(await readFile(file, 'utf8')).node.id).toContain('sidecar~');
  });

  it('renders a Go template from bootstrapTemplatePath (ISTIO_BOOTSTRAP / --templateFile)', async () => {
    const template = path.join(dir, 'bootstrap.tmpl');
    await writeFile(template, '{"node": {"id": "{{ .nodeID }}", "cluster": "{{ .cluster }}"}}\n');
    const file = await write(config({ bootstrapTemplatePath: template }));
    expect(await readFile(file, 'utf8')).toBe(
      '{"node": {"id": "sidecar~10.44.0.12~productpage-v1-6b7f6dc7f-x2b9q.default~default.svc.cluster.local", "cluster": "istio-proxy"}}\n',
    );
  });

  it('returns --customConfigFile verbatim and writes nothing', async () => {
    const cfg = config({ proxy: { customConfigFile: '/etc/istio/custom.json' } });
    expect(await write(cfg)).toBe('/etc/istio/custom.json');
    expect(await listing()).toBeUndefined();
  });
});

describe('generation failures leave configPath untouched', () => {
  it('unreadable template: names the path; configPath is not even created', async () => {
    const template = path.join(dir, 'missing.tmpl');
    const message = await failure(write(config({ bootstrapTemplatePath: template })));
    expect(message).toBe(`cannot read bootstrap template ${template}: no such file or directory`);
    expect(await listing()).toBeUndefined();
  });

  it('a directory as template', async () => {
    const message = await failure(write(config({ bootstrapTemplatePath: dir })));
    expect(message).toBe(`cannot read bootstrap template ${dir}: is a directory`);
  });

  it('a template with a parse error: file and line', async () => {
    const template = path.join(dir, 'broken.tmpl');
    await writeFile(template, '{\n  "id": "{{ .nodeID }}",\n  {{ if .zipkin }}\n}\n');
    const message = await failure(write(config({ bootstrapTemplatePath: template })));
    expect(message).toBe(`${template}:3: unexpected EOF: "if" has no matching {{end}}`);
    expect(await listing()).toBeUndefined();
  });

  it('a template using a function Go does not know, or a field ProxyConfig does not have', async () => {
    const template = path.join(dir, 'later-istio.tmpl');
    await writeFile(template, '{\n  "h": {{ toJson .histogram_buckets }}\n}\n');
    expect(await failure(write(config({ bootstrapTemplatePath: template })))).toBe(
      `${template}:2: function "toJson" not defined`,
    );
    // Istio ≥ 1.6 templates read .config.StatusPort, which 1.5's ProxyConfig does not have.
    await writeFile(template, '{\n\n  "port": {{ .config.StatusPort }}\n}\n');
    expect(await failure(write(config({ bootstrapTemplatePath: template })))).toBe(
      `${template}:3: can't evaluate field "StatusPort" in type *v1alpha1.ProxyConfig (at <.config.StatusPort>)`,
    );
    expect(await listing()).toBeUndefined();
  });

  it('malformed ISTIO_METAJSON_* is a usage error', async () => {
    const message = await failure(write(config({ env: { ISTIO_METAJSON_LABELS: '{app: x}' } })), 'usage');
    expect(message).toMatch(/^ISTIO_METAJSON_LABELS: invalid JSON: /);
    expect(await listing()).toBeUndefined();
  });

  it('an unparsable address names the option', async () => {
    const message = await failure(write(config({ proxy: { configPath, discoveryAddress: 'istiod' } })));
    expect(message).toBe('unable to parse pilot_grpc_address address "istiod": missing port in address');
  });

  it('a non-numeric port is caught by the built-in bootstrap', async () => {
    const message = await failure(write(config({ proxy: { configPath, discoveryAddress: 'istiod:grpc' } })));
    expect(message).toBe(
      'pilot_grpc_address: {"address": "istiod", "port_value": grpc} is not a socket address (the port must be a number)',
    );
  });
});

describe('unwritable configPath', () => {
  it('a file in place of the directory', async () => {
    await mkdir(path.dirname(configPath), { recursive: true });
    await writeFile(configPath, 'not a directory');
    expect(await failure(write(config()))).toBe(
      `cannot create configPath ${configPath}: it exists and is not a directory`,
    );
  });

  it('a file in place of a parent directory', async () => {
    await writeFile(path.join(dir, 'etc'), '');
    expect(await failure(write(config()))).toBe(
      `cannot create configPath ${configPath}: a parent is not a directory`,
    );
  });

  it('a directory where the bootstrap file goes: the temporary file is removed', async () => {
    await mkdir(path.join(configPath, 'envoy-rev0.json'), { recursive: true });
    const message = await failure(write(config()));
    expect(message).toBe(
      `cannot write bootstrap ${path.join(configPath, 'envoy-rev0.json')}: is a directory`,
    );
    expect(await listing()).toEqual(['envoy-rev0.json']);
  });

  // Root ignores directory permissions, so this case only runs as an ordinary user.
  it.skipIf(process.getuid?.() === 0)('a configPath under a read-only directory', async () => {
    await chmod(dir, 0o500);
    expect(await failure(write(config()))).toBe(`cannot create configPath ${configPath}: permission denied`);
  });
});

describe('removeBootstrap', () => {
  it('removes the epoch file; a missing file is fine', async () => {
    const cfg = config();
    await write(cfg, 1);
    expect(await removeBootstrap(cfg, 1)).toEqual({});
    expect(await listing()).toEqual([]);
    expect(await removeBootstrap(cfg, 1)).toEqual({});
  });

  it('does nothing with --customConfigFile', async () => {
    const cfg = config({ proxy: { customConfigFile: path.join(configPath, 'envoy-rev0.json') } });
    await write(config(), 0);
    expect(await removeBootstrap(cfg, 0)).toEqual({});
    expect(await listing()).toEqual(['envoy-rev0.json']);
  });

  it('reports other failures as a warning', async () => {
    const cfg = config();
    await mkdir(path.join(configPath, 'envoy-rev2.json', 'inner'), { recursive: true });
    const result = await removeBootstrap(cfg, 2);
    expect(result.warning).toMatch(
      new RegExp(`^failed to delete bootstrap ${path.join(configPath, 'envoy-rev2.json')}: `),
    );
  });
});

describe('readBootstrapOverride (ISTIO_BOOTSTRAP_OVERRIDE)', () => {
  it('is empty when unset', async () => {
    expect(await readBootstrapOverride(config())).toEqual({});
  });

  it('returns the raw contents', async () => {
    const file = path.join(dir, 'override.yaml');
    await writeFile(file, '{"key": "value"}');
    expect(await readBootstrapOverride(config({ bootstrapOverridePath: file }))).toEqual({
      yaml: '{"key": "value"}',
    });
  });

  it('warns and omits it when unreadable, as Istio does', async () => {
    const file = path.join(dir, 'missing.yaml');
    expect(await readBootstrapOverride(config({ bootstrapOverridePath: file }))).toEqual({
      warning: `Failed to read bootstrap override ${file}: no such file or directory`,
    });
  });
});
