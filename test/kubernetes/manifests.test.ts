/**
 * The Kubernetes manifests in deploy/kubernetes/ cannot drift from the code: every object validates
 * against Kubernetes' OpenAPI schema (kubernetes-models, offline); the agent container's args and
 * environment go through the agent's own command line and config loader (no error, no warning);
 * ISTIO_KUBE_APP_PROBERS parses and maps exactly the application's rewritten probes; the grace
 * period equals TERMINATION_GRACE_PERIOD_SECONDS and fits the drain without shortening it; and the
 * hooks (`pilot-agent wait`, `pilot-agent request … POST drain`) are valid commands that reach the
 * status server's real routes.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { basename, dirname, join, resolve } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Pod, Service, ServiceAccount } from 'kubernetes-models/v1';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { POD_LABELS_PATH } from '../../src/bootstrap/metadata.js';
import { tokenizeGoFlags } from '../../src/cli/argv.js';
import { runRequest } from '../../src/cli/commands/request.js';
import { runWait } from '../../src/cli/commands/wait.js';
import { LOG_FLAGS, parseFlagValues, REQUEST_FLAGS, WAIT_FLAGS } from '../../src/config/flags.js';
import { shutdownPlan } from '../../src/config/shutdown-plan.js';
import type { AgentConfig } from '../../src/config/types.js';
import { createLogger } from '../../src/log.js';
import { packageRoot } from '../../src/package-root.js';
import { APP_PROBE_KEY, parseAppProbers } from '../../src/status/app-probes.js';
import { statusOptionsFromConfig } from '../../src/status/options.js';
import { buildStatusServer, listenStatusServer, type StatusServer } from '../../src/status/server.js';
import { runMain } from '../cli/helpers.js';
import { readFieldTable, unknownFields } from './declared-fields.js';

const ROOT = packageRoot(import.meta.dirname) ?? process.cwd();
const DIR = join(ROOT, 'deploy/kubernetes');
/** The image name the manifests carry until the user puts their own (README "Running in Kubernetes"). */
const IMAGE_PLACEHOLDER = 'registry.example/pilot-agent:0.1.0';
/** Kubernetes' default `terminationGracePeriodSeconds`. */
const DEFAULT_GRACE_SECONDS = 30;
const AGENT_CONTAINER = 'istio-proxy';

type Manifest = { apiVersion?: string; kind?: string; metadata?: { name?: string } } & Record<
  string,
  unknown
>;

const MODELS: Record<string, { model: new (data: never) => { validate(): void }; type: string }> = {
  'v1/ServiceAccount': { model: ServiceAccount, type: 'IIoK8sApiCoreV1ServiceAccount' },
  'v1/Service': { model: Service, type: 'IIoK8sApiCoreV1Service' },
  'v1/Pod': { model: Pod, type: 'IIoK8sApiCoreV1Pod' },
  'apps/v1/Deployment': { model: Deployment, type: 'IIoK8sApiAppsV1Deployment' },
};
// ObjectMeta and friends live in kubernetes-models' own dependency, nested or hoisted by npm.
const MODELS_DIR = join(ROOT, 'node_modules/kubernetes-models');
const APIMACHINERY_DIR = [
  join(MODELS_DIR, 'node_modules/@kubernetes-models/apimachinery'),
  join(ROOT, 'node_modules/@kubernetes-models/apimachinery'),
].find((dir) => existsSync(dir));
const FIELDS = readFieldTable([MODELS_DIR, ...(APIMACHINERY_DIR ? [APIMACHINERY_DIR] : [])]);

const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort();
const manifests: { file: string; doc: Manifest }[] = files.flatMap((file) =>
  parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]?.message}`);
    return { file, doc: d.toJSON() as Manifest };
  }),
);

interface PodTemplate {
  where: string;
  spec: IPodSpec;
}

function podTemplates(): PodTemplate[] {
  return manifests.flatMap(({ file, doc }) => {
    const where = `${file} ${doc.kind}/${doc.metadata?.name}`;
    if (doc.kind === 'Pod') return [{ where, spec: (doc as unknown as { spec: IPodSpec }).spec }];
    if (doc.kind === 'Deployment') {
      const deployment = doc as unknown as { spec: { template: { spec: IPodSpec } } };
      return [{ where, spec: deployment.spec.template.spec }];
    }
    return [];
  });
}

/** The agent container of a pod: a classic sidecar in `containers`, or a native one in `initContainers`. */
function agentOf(spec: IPodSpec): { container: IContainer; native: boolean } {
  const native = (spec.initContainers ?? []).find((c) => c.name === AGENT_CONTAINER);
  if (native) return { container: native, native: true };
  const classic = spec.containers.find((c) => c.name === AGENT_CONTAINER);
  if (!classic) throw new Error(`no ${AGENT_CONTAINER} container`);
  return { container: classic, native: false };
}

/** Example values kubelet would give the Downward API fields the manifests use. */
function fieldValue(fieldPath: string, spec: IPodSpec): string {
  const values: Record<string, string> = {
    'metadata.name': 'httpbin-7d4cd8f7c5-x2b9q',
    'metadata.namespace': 'default',
    'status.podIP': '10.44.0.12',
    'status.hostIP': '10.128.0.7',
    'spec.serviceAccountName': spec.serviceAccountName ?? 'default',
  };
  const value = values[fieldPath];
  if (value === undefined) throw new Error(`fieldRef ${fieldPath} is not one this test knows`);
  return value;
}

/**
 * Kubernetes' `$(VAR)` expansion of env values, command and args (kubernetes
 * third_party/forked/golang/expansion): a defined variable is replaced, an undefined reference
 * stays as written, `$$` is a literal `$`.
 */
function expand(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) => {
    if (whole === '$$') return '$';
    return name !== undefined && vars[name] !== undefined ? vars[name] : whole;
  });
}

/** The container's environment as kubelet builds it, in order (later values see earlier ones). */
function containerEnv(container: IContainer, spec: IPodSpec): Record<string, string> {
  const env: Record<string, string> = {};
  for (const item of container.env ?? []) {
    if (item.value !== undefined) env[item.name] = expand(item.value, env);
    else if (item.valueFrom?.fieldRef) env[item.name] = fieldValue(item.valueFrom.fieldRef.fieldPath, spec);
    else throw new Error(`env ${item.name}: only value and fieldRef are modelled here`);
  }
  return env;
}

const quietLog = () => createLogger({ json: true, level: 'none', destination: process.stdout });

/** Loads the agent container through the real CLI (`main`), capturing the config instead of running it. */
async function loadAgent(template: PodTemplate) {
  const { container } = agentOf(template.spec);
  const env = containerEnv(container, template.spec);
  const args = (container.args ?? []).map((a) => expand(a, env));
  let config: AgentConfig | undefined;
  const result = await runMain(args, {
    env,
    runProxy: async (c) => {
      config = c;
      return { exitCode: 0, reason: '' };
    },
    interfaces: { eth0: [] },
    resolveHost: async () => {
      throw new Error('no DNS in this test');
    },
  });
  return { ...result, config, env, container };
}

const servers: StatusServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** The agent's real status server on a free port: ready, with a spy on `POST /drain`. */
async function statusServer() {
  const drains: number[] = [];
  const app = buildStatusServer({
    readiness: () => ({ ready: true, reason: '' }),
    log: quietLog(),
    drain: () => drains.push(Date.now()),
    quit: () => {},
  });
  servers.push(app);
  await listenStatusServer(app, 0);
  const { port } = app.server.address() as AddressInfo;
  return { port, drains };
}

function execCommand(handler: { exec?: { command?: string[] } } | undefined): string[] | undefined {
  return handler?.exec?.command;
}

describe('deploy/kubernetes manifests', () => {
  it('are there: a classic and a native sidecar example', () => {
    expect(files).toEqual(['classic-sidecar.yaml', 'native-sidecar.yaml', 'serviceaccount.yaml']);
    const natives = podTemplates().map((t) => agentOf(t.spec).native);
    expect(natives.sort()).toEqual([false, true]);
  });

  it.each(manifests.map((m) => [`${m.file} ${m.doc.kind}/${m.doc.metadata?.name}`, m.doc]))(
    '%s validates against the Kubernetes OpenAPI schema, with no field the API does not declare',
    (_name, doc) => {
      const known = MODELS[`${doc.apiVersion}/${doc.kind}`];
      expect(known, `a model for ${doc.apiVersion} ${doc.kind}`).toBeDefined();
      if (!known) return;
      expect(() => new known.model(doc as never).validate()).not.toThrow();
      expect(unknownFields(doc, known.type, FIELDS)).toEqual([]);
    },
  );

  it('the schema check has teeth: a wrong type, a bad enum or a missing name fails', () => {
    const deployment = manifests.find((m) => m.doc.kind === 'Deployment')?.doc;
    const broken = (edit: (spec: IPodSpec) => void) => {
      const copy = structuredClone(deployment) as unknown as { spec: { template: { spec: IPodSpec } } };
      edit(copy.spec.template.spec);
      return () => new Deployment(copy as never).validate();
    };
    expect(
      broken((s) => {
        s.terminationGracePeriodSeconds = '30' as unknown as number;
      }),
    ).toThrow(/terminationGracePeriodSeconds must be integer/);
    expect(
      broken((s) => {
        (s.containers[0] as IContainer).imagePullPolicy = 'Sometimes' as never;
      }),
    ).toThrow(/imagePullPolicy must be equal to one of the allowed values/);
    expect(
      broken((s) => {
        delete (s.containers[0] as Partial<IContainer>).name;
      }),
    ).toThrow(/must have required property '?name'?/);
    // A misspelt field passes the schema, and is caught by the declared-field check.
    const misspelt = structuredClone(deployment) as unknown as { spec: { template: { spec: IPodSpec } } };
    const proxy = misspelt.spec.template.spec.containers[0] as unknown as Record<string, unknown>;
    proxy.securityContext = { ...(proxy.securityContext as object), readOnlyRootFilesytem: true };
    expect(() => new Deployment(misspelt as never).validate()).not.toThrow();
    expect(unknownFields(misspelt, 'IIoK8sApiAppsV1Deployment', FIELDS)).toEqual([
      'spec.template.spec.containers[0].securityContext.readOnlyRootFilesytem',
    ]);
    expect(FIELDS.get('IIoK8sApiCoreV1Container')?.has('restartPolicy')).toBe(true);
    expect(FIELDS.get('IIoK8sApimachineryPkgApisMetaV1ObjectMeta')?.has('labels')).toBe(true);
  });

  describe.each(podTemplates().map((t) => [t.where, t] as const))('%s', (_where, template) => {
    it('starts the agent with args and env the agent parses with no error and no warning', async () => {
      const { code, stderr, logs, config, container } = await loadAgent(template);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      const loud = logs.filter((l) => !['debug', 'info'].includes(String(l.level)));
      expect(loud).toEqual([]);
      expect(config).toBeDefined();
      if (!config) return;
      expect(container.image).toBe(IMAGE_PLACEHOLDER);
      // No command: the image's entrypoint (tini, then pilot-agent) takes the args.
      expect(container.command).toBeUndefined();
      expect(config.node.type).toBe('sidecar');
      expect(config.statusPort).toBe(15020);
      expect(config.node.podIp).toBe('10.44.0.12');
      expect(config.node.id).toBe('httpbin-7d4cd8f7c5-x2b9q.default');
      expect(config.node.domain).toBe('default.svc.cluster.local');
      expect(config.proxy.binaryPath).toBe('/usr/local/bin/envoy');
    });

    it("plans the shutdown within the pod's grace period, given as TERMINATION_GRACE_PERIOD_SECONDS", async () => {
      const { config, container } = await loadAgent(template);
      const literal = (container.env ?? []).find((e) => e.name === 'TERMINATION_GRACE_PERIOD_SECONDS');
      // A literal: the Downward API cannot expose terminationGracePeriodSeconds.
      expect(literal?.value).toBe(
        String(template.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS),
      );
      expect(literal?.valueFrom).toBeUndefined();
      if (!config) throw new Error('no config');
      const plan = shutdownPlan(config.lifecycle);
      expect(plan.budgetMs).not.toBeNull();
      expect(plan.warning).toBeNull();
      expect(plan.worstCaseMs).toBeLessThanOrEqual(plan.budgetMs ?? 0);
    });

    it("runs as Istio's injected proxy: uid/gid 1337, read-only root, no capabilities, writes to a memory emptyDir", async () => {
      const { config, container } = await loadAgent(template);
      if (!config) throw new Error('no config');
      expect(container.securityContext).toMatchObject({
        runAsUser: 1337,
        runAsGroup: 1337,
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
      expect(container.securityContext?.capabilities?.add ?? []).toEqual([]);
      expect(container.securityContext?.privileged ?? false).toBe(false);
      const volumeAt = (path: string) => {
        const mount = (container.volumeMounts ?? []).find((m) => m.mountPath.replace(/\/$/, '') === path);
        return (template.spec.volumes ?? []).find((v) => v.name === mount?.name);
      };
      expect(volumeAt(config.proxy.configPath)?.emptyDir).toEqual({ medium: 'Memory' });
      // Every certificate file the agent watches comes from a secret volume (Istio 1.5's /etc/certs).
      for (const file of config.certs.files) {
        const dir = file.slice(0, file.lastIndexOf('/'));
        expect(dir).toBe('/etc/certs');
        expect(volumeAt(dir)?.secret?.secretName).toBe(`istio.${template.spec.serviceAccountName}`);
      }
      // Pod labels for the node metadata, where the agent reads them (relative to its working
      // directory, which the manifest sets rather than leave it to the image).
      expect(container.workingDir).toBeDefined();
      const labels = resolve(container.workingDir ?? '', POD_LABELS_PATH);
      const podinfo = volumeAt(dirname(labels));
      expect(podinfo?.downwardAPI?.items).toContainEqual({
        path: basename(labels),
        fieldRef: { fieldPath: 'metadata.labels' },
      });
    });

    it('rewrites the application probes to the status port, and ISTIO_KUBE_APP_PROBERS maps each to a real probe', async () => {
      const { config } = await loadAgent(template);
      if (!config) throw new Error('no config');
      const { probers } = statusOptionsFromConfig(config);
      expect(probers.size).toBeGreaterThan(0);
      const kinds = [
        ['livenessProbe', 'livez'],
        ['readinessProbe', 'readyz'],
        ['startupProbe', 'startupz'],
      ] as const;
      const used = new Set<string>();
      for (const app of template.spec.containers.filter((c) => c.name !== AGENT_CONTAINER)) {
        for (const [field, kind] of kinds) {
          const probe: IProbe | undefined = app[field];
          if (!probe) continue;
          const path = probe.httpGet?.path ?? '';
          expect(probe.httpGet?.port, `${app.name} ${field} goes to the status port`).toBe(config.statusPort);
          expect(path).toBe(`/app-health/${app.name}/${kind}`);
          const prober = probers.get(path);
          expect(prober, `ISTIO_KUBE_APP_PROBERS has ${path}`).toBeDefined();
          expect(prober?.container).toBe(app.name);
          // The original probe targets a port the application declares.
          const ports = (app.ports ?? []).map((p) => p.containerPort);
          expect(ports).toContain(prober?.action.port);
          used.add(path);
        }
      }
      // No entry for a probe that does not exist.
      expect([...probers.keys()].sort()).toEqual([...used].sort());
      for (const key of probers.keys()) expect(key).toMatch(APP_PROBE_KEY);
      // The same parser the status server uses at start.
      expect(() => parseAppProbers(config.kubeAppProbers)).not.toThrow();
    });

    it("probes the agent's readiness on the status port, where the status server answers it", async () => {
      const { config, container } = await loadAgent(template);
      if (!config) throw new Error('no config');
      const { native } = agentOf(template.spec);
      const probes = [container.readinessProbe, native ? container.startupProbe : undefined].filter(
        (p): p is IProbe => p !== undefined,
      );
      expect(probes).toHaveLength(native ? 2 : 1);
      const server = await statusServer();
      for (const probe of probes) {
        expect(probe.httpGet?.port).toBe(config.statusPort);
        const res = await fetch(`http://127.0.0.1:${server.port}${probe.httpGet?.path}`);
        expect(res.status).toBe(200);
      }
    });

    it('hooks: a native sidecar drains in preStop, a classic one holds the application until ready', async () => {
      const { config, container } = await loadAgent(template);
      if (!config) throw new Error('no config');
      const { native } = agentOf(template.spec);
      const server = await statusServer();
      if (native) {
        expect(container.restartPolicy).toBe('Always');
        expect(container.lifecycle?.postStart).toBeUndefined();
        const command = execCommand(container.lifecycle?.preStop);
        expect(command?.slice(0, 2)).toEqual(['pilot-agent', 'request']);
        // Parsed as the CLI parses it, then run against the status server's real /drain route.
        const tokens = tokenizeGoFlags(
          command?.slice(2) ?? [],
          { ...LOG_FLAGS, ...REQUEST_FLAGS },
          {
            allowUnknown: false,
          },
        );
        const flags = parseFlagValues(REQUEST_FLAGS, tokens.values);
        expect(flags['debug-port']).toBe(config.statusPort);
        expect(tokens.positionals).toEqual(['POST', 'drain']);
        let out = '';
        const code = await runRequest(
          tokens.positionals,
          flags,
          { stdout: { write: (c: string | Uint8Array) => (out += String(c)) } },
          { connectTo: () => ({ host: '127.0.0.1', port: server.port }) },
        );
        expect(code).toBe(0);
        expect(out).toBe('OK\n');
        expect(server.drains).toHaveLength(1);
      } else {
        expect(container.restartPolicy).toBeUndefined();
        // holdApplicationUntilProxyStarts: the agent is the first container, its postStart waits.
        expect(template.spec.containers[0]?.name).toBe(AGENT_CONTAINER);
        expect(container.lifecycle?.preStop).toBeUndefined();
        const command = execCommand(container.lifecycle?.postStart);
        expect(command?.slice(0, 2)).toEqual(['pilot-agent', 'wait']);
        const tokens = tokenizeGoFlags(
          command?.slice(2) ?? [],
          { ...LOG_FLAGS, ...WAIT_FLAGS },
          {
            allowUnknown: false,
          },
        );
        expect(tokens.positionals).toEqual([]);
        const flags = parseFlagValues(WAIT_FLAGS, tokens.values);
        const url = new URL(flags.url);
        expect(url.hostname).toBe('localhost');
        expect(url.port).toBe(String(config.statusPort));
        // The same URL, on the test's free port: `wait` succeeds once the agent is ready.
        url.port = String(server.port);
        expect(await runWait({ ...flags, url: url.href, periodMillis: 10 }, quietLog())).toBe(0);
      }
    });
  });

  it('the README names the image placeholder and the commands to apply them', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(IMAGE_PLACEHOLDER);
    for (const file of files) expect(readme).toContain(`deploy/kubernetes/${file}`);
  });
});
