/**
 * Envoy's v3 API as the validator walks it: every message a bootstrap can contain (and the common
 * `@type` extensions) with its fields, oneofs, enums and protoc-gen-validate rules.
 *
 * The source is the `.proto` files `@grpc/grpc-js-xds` ships (data-plane-api, xds, udpa,
 * protoc-gen-validate), read with protobufjs. Reading ~100 files takes a few hundred milliseconds,
 * and every simulated Envoy validates its bootstrap at start, so `npm run build` reads them once
 * and writes the result as JSON (`dist/envoy-api.json`, ~200 KB); `envoyApi()` loads that, and
 * falls back to reading the `.proto` files when it is missing or was made from other inputs.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../src/package-root.js';

/** Files whose types a bootstrap may reference: the Bootstrap itself and common `@type` extensions. */
const ROOT_FILES = [
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  'envoy/extensions/access_loggers/grpc/v3/als.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/config/trace/v3/zipkin.proto',
  'envoy/config/trace/v3/datadog.proto',
  'envoy/config/trace/v3/lightstep.proto',
  'envoy/config/trace/v3/opentelemetry.proto',
  'envoy/config/metrics/v3/stats.proto',
  'envoy/config/metrics/v3/metrics_service.proto',
  'udpa/type/v1/typed_struct.proto',
  'xds/type/v3/typed_struct.proto',
];

/** protoc-gen-validate rules of a field or oneof, flattened: `{ 'uint32.lte': 65535 }`. */
export type Rules = Record<string, unknown>;

export interface FieldInfo {
  name: string;
  /**
   * The JSON name; stored only when it is not the lowerCamelCase of `name` (`[json_name]`),
   * always set once loaded.
   */
  json?: string;
  /** A scalar type (`string`, `uint32`…) or a message or enum's full name. */
  type: string;
  /** Absent for scalars. */
  kind?: 'message' | 'enum';
  repeated?: true;
  /** Map fields: the key's scalar type. */
  mapKey?: string;
  oneof?: string;
  rules?: Rules;
}

export interface TypeInfo {
  fields: FieldInfo[];
  /** Oneofs `(validate.required)` marks as required. */
  requiredOneofs?: string[];
}

/** As written to dist/envoy-api.json: each message as its own JSON text, read when first met. */
interface StoredApi {
  /** What the API was made from: the root files and the protos' package version. */
  source: string;
  types: Record<string, string>;
  enums: Record<string, Record<string, number>>;
}

export interface EnvoyApi {
  source: string;
  /** A message by full name (`envoy.config.core.v3.Address`); `undefined` when not loaded. */
  type(name: string): TypeInfo | undefined;
  enums: Record<string, Record<string, number>>;
}

/**
 * A bootstrap reaches a few dozen of the ~500 messages: reading each one's fields only when it
 * is first met keeps a simulated Envoy's start from allocating (and collecting) all of them.
 */
function lazily(stored: StoredApi): EnvoyApi {
  const cache = new Map<string, TypeInfo>();
  return {
    source: stored.source,
    enums: stored.enums,
    type(name) {
      let info = cache.get(name);
      if (info === undefined) {
        const text = stored.types[name];
        if (text === undefined) return undefined;
        info = JSON.parse(text) as TypeInfo;
        for (const f of info.fields) f.json ??= lowerCamel(f.name);
        cache.set(name, info);
      }
      return info;
    },
  };
}

/** protobuf's default JSON name of a field. */
export function lowerCamel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

const root = (): string => packageRoot(import.meta.dirname) ?? process.cwd();
const BUILT = (): string => join(root(), 'dist/envoy-api.json');

/** `require` for the fallback path only: loading node:module costs every simulator start ~10 ms. */
function requireHere(): NodeJS.Require {
  return process.getBuiltinModule('node:module').createRequire(import.meta.url);
}

function protosPackage(): { dir: string; version: string } | undefined {
  try {
    const require = requireHere();
    const file = require.resolve('@grpc/grpc-js-xds/package.json');
    return {
      dir: dirname(file),
      version: (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version,
    };
  } catch {
    return undefined;
  }
}

const FILES = ROOT_FILES.join(' ');

/**
 * Envoy's `.proto` files (and those they import) read with protobufjs, a development dependency,
 * names as written (`keepCase`). For the validator below, the simulator's SDS client and tests.
 */
export function loadEnvoyProtos(files: readonly string[]): import('protobufjs').Root {
  const protos = protosPackage();
  if (!protos) throw new Error('@grpc/grpc-js-xds is not installed: the Envoy API protos are missing');
  const require = requireHere();
  const protobuf = require('protobufjs') as typeof import('protobufjs');
  const deps = join(protos.dir, 'deps');
  // google/protobuf/descriptor.proto (imported by the annotation protos) ships with protobufjs.
  const includeDirs = [
    join(deps, 'envoy-api'),
    join(deps, 'xds'),
    join(deps, 'protoc-gen-validate'),
    join(deps, 'googleapis'),
    dirname(require.resolve('protobufjs/package.json')),
  ];
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string): string | null => {
    for (const dir of includeDirs) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return existsSync(target) ? target : null;
  };
  root.loadSync([...files], { keepCase: true });
  root.resolveAll();
  return root;
}

/** Reads the `.proto` files into the stored form. */
function readProtos(): StoredApi {
  const protos = protosPackage();
  if (!protos) throw new Error('@grpc/grpc-js-xds is not installed: the Envoy API protos are missing');
  const protobuf = requireHere()('protobufjs') as typeof import('protobufjs');
  const api = loadEnvoyProtos(ROOT_FILES);

  const out: StoredApi = { source: `${FILES} (@grpc/grpc-js-xds@${protos.version})`, types: {}, enums: {} };
  const rulesOf = (options: Record<string, unknown> | undefined, prefix: string): Rules | undefined => {
    const rules: Rules = {};
    for (const [key, value] of Object.entries(options ?? {})) {
      if (key.startsWith(prefix)) rules[key.slice(prefix.length)] = value;
    }
    return Object.keys(rules).length > 0 ? rules : undefined;
  };
  const visit = (ns: import('protobufjs').NamespaceBase): void => {
    for (const item of ns.nestedArray) {
      const full = item.fullName.replace(/^\./, '');
      if (item instanceof protobuf.Type) {
        const info: TypeInfo = {
          fields: item.fieldsArray.map((f) => {
            const resolved = f.resolvedType;
            const field: FieldInfo = {
              name: f.name,
              type: resolved ? resolved.fullName.replace(/^\./, '') : f.type,
            };
            if (f.jsonName !== undefined && f.jsonName !== lowerCamel(f.name)) field.json = f.jsonName;
            if (resolved instanceof protobuf.Type) field.kind = 'message';
            else if (resolved instanceof protobuf.Enum) field.kind = 'enum';
            if (f.repeated) field.repeated = true;
            if (f instanceof protobuf.MapField) field.mapKey = f.keyType;
            if (f.partOf) field.oneof = f.partOf.name;
            const rules = rulesOf(f.options, '(validate.rules).');
            if (rules) field.rules = rules;
            return field;
          }),
        };
        const required = item.oneofsArray.filter((o) => o.options?.['(validate.required)'] === true);
        if (required.length > 0) info.requiredOneofs = required.map((o) => o.name);
        types.set(full, info);
        if (item.filename && ROOT_FILES.some((f) => item.filename?.endsWith(f))) roots.push(full);
      } else if (item instanceof protobuf.Enum) {
        out.enums[full] = { ...item.values };
      }
      if (item instanceof protobuf.Namespace || item instanceof protobuf.Type) visit(item);
    }
  };
  const types = new Map<string, TypeInfo>();
  const roots: string[] = [];
  visit(api);
  // Kept: the messages of the root files (what a bootstrap or an `@type` can name) and every
  // message their fields reach; the rest of the imported files is never met.
  const stack = [...roots];
  while (stack.length > 0) {
    const name = stack.pop() as string;
    const info = types.get(name);
    if (info === undefined || name in out.types) continue;
    out.types[name] = JSON.stringify(info);
    for (const f of info.fields) if (f.kind === 'message') stack.push(f.type);
  }
  return out;
}

let loaded: EnvoyApi | undefined;

/**
 * The API: the built JSON when it was made from these root files, else read from the protos (and
 * kept for this process). `npm run build` rewrites the JSON, so a new protos package is picked up.
 */
export function envoyApi(): EnvoyApi {
  if (loaded) return loaded;
  let stored: StoredApi | undefined;
  try {
    const built = JSON.parse(readFileSync(BUILT(), 'utf8')) as StoredApi;
    if (built.source.startsWith(`${FILES} (`)) stored = built;
  } catch {
    // not built yet
  }
  loaded = lazily(stored ?? readProtos());
  return loaded;
}

/** `npm run build`: writes dist/envoy-api.json. */
export function writeEnvoyApi(): string {
  const api = readProtos();
  const file = BUILT();
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(api));
  return file;
}

if (process.argv[1]?.endsWith('descriptor.js')) {
  const file = writeEnvoyApi();
  process.stdout.write(`wrote ${file}\n`);
}
