/**
 * Loading the bootstrap as `InstanceUtil::loadBootstrapConfig` does (`source/server/server.cc`):
 * the `-c` file, parsed by extension (`.yaml`/`.yml` as YAML, anything else as JSON;
 * `MessageUtil::loadFromFile`), then `--config-yaml` parsed as a second Bootstrap and merged in
 * with protobuf `MergeFrom` semantics (scalars override, repeated fields are appended, messages
 * merge field by field), then validation through the one seam in `validate-bootstrap.ts`, then
 * the semantic checks Envoy makes while building the server from it.
 *
 * Every failure is returned as the reason text Envoy puts in
 * `error initializing configuration '<path>': <reason>`.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Options } from './options.js';
import {
  type BootstrapFacts,
  bootstrapFacts,
  isObject,
  type Json,
  type JsonObject,
  validateBootstrap,
} from './validate-bootstrap.js';

export interface LoadedBootstrap {
  doc: JsonObject;
  facts: BootstrapFacts;
  /** Descriptions of unknown fields that `--allow-unknown-static-fields` let through. */
  unknownFields: string[];
}

export type LoadResult = { ok: true; bootstrap: LoadedBootstrap } | { ok: false; reason: string };

class LoadError extends Error {}

function parseJsonText(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new LoadError(`Unable to parse JSON as proto (INVALID_ARGUMENT:${detail}): ${text}`);
  }
}

/** `yaml` is loaded only when a YAML document is met: JSON bootstraps (Istio's) start faster. */
let yamlParse: ((text: string, options: { uniqueKeys: boolean }) => unknown) | undefined;

async function parseYamlText(text: string): Promise<Json> {
  yamlParse ??= (await import('yaml')).parse;
  const parseYaml = yamlParse;
  try {
    // YAML 1.2 core schema, as yaml-cpp reads Envoy's configs; a document that is empty or only
    // comments is an empty Bootstrap.
    const value = parseYaml(text, { uniqueKeys: false }) as Json | undefined;
    return value ?? {};
  } catch (err) {
    const detail = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new LoadError(`Unable to convert YAML as JSON: ${detail}`);
  }
}

async function loadFile(path: string): Promise<Json> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    // Filesystem::InstanceImplPosix::fileReadToEnd.
    throw new LoadError(`unable to read file: ${path}`);
  }
  const lower = path.toLowerCase();
  if (lower.endsWith('.pb') || lower.endsWith('.pb_text')) {
    throw new LoadError(
      `envoy-simulator: binary and text protobuf bootstraps (.pb, .pb_text) are not supported, use YAML or JSON: ${path}`,
    );
  }
  if (lower.endsWith('.yaml') || lower.endsWith('.yml')) return await parseYamlText(text);
  return parseJsonText(text);
}

/**
 * Protobuf `MergeFrom` on two JSON renderings of the same message type: nested messages merge,
 * lists are appended, anything else in `from` replaces the value in `into`. Without the schema a
 * proto3 scalar explicitly set to its default in `from` also replaces (protobuf would skip it).
 */
export function mergeBootstrap(into: JsonObject, from: JsonObject): JsonObject {
  const out: JsonObject = { ...into };
  for (const [key, value] of Object.entries(from)) {
    const current = out[key];
    if (Array.isArray(current) && Array.isArray(value)) {
      out[key] = [...current, ...value];
    } else if (isObject(current) && isObject(value)) {
      out[key] = mergeBootstrap(current, value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** Checks Envoy makes while building the server (no schema captures them). */
function semanticReason(facts: BootstrapFacts, options: Options): string | undefined {
  if (facts.admin?.kind === 'socket' && isIP(facts.admin.address) === 0) {
    // Network::Utility::parseInternetAddress, via the admin address resolver.
    return `malformed IP address: ${facts.admin.address}. Consider setting resolver_name or setting cluster type to 'STRICT_DNS' or 'LOGICAL_DNS'`;
  }
  const id = options.serviceNode || facts.node.id;
  const cluster = options.serviceCluster || facts.node.cluster;
  if (facts.usesGrpcXds && (id === '' || cluster === '')) {
    // Config::Utility::checkLocalInfo("ads", ...) when the gRPC mux is created.
    return "ads: node 'id' and 'cluster' are required. Set it either in 'node' config or via --service-node and --service-cluster options.";
  }
  return undefined;
}

export async function loadBootstrap(options: Options): Promise<LoadResult> {
  const unknownFields: string[] = [];
  try {
    if (options.configPath === '' && options.configYaml === '') {
      throw new LoadError(
        'At least one of --config-path or --config-yaml or Options::configProto() should be non-empty',
      );
    }
    const validate = (doc: Json): void => {
      const reason = validateBootstrap(doc, {
        allowUnknownStaticFields: options.allowUnknownStaticFields,
        onUnknownField: (description) => unknownFields.push(description),
      });
      if (reason !== undefined) throw new LoadError(reason);
    };
    let doc: JsonObject = {};
    if (options.configPath !== '') {
      const fromFile = await loadFile(options.configPath);
      validate(fromFile);
      doc = fromFile as JsonObject;
    }
    if (options.configYaml !== '') {
      const override = await parseYamlText(options.configYaml);
      validate(override);
      doc = mergeBootstrap(doc, override as JsonObject);
    }
    // Constraints are checked once more on the merged message (`MessageUtil::validate`), with
    // unknown fields already reported above.
    const merged = validateBootstrap(doc, { allowUnknownStaticFields: true });
    if (merged !== undefined) throw new LoadError(merged);
    const facts = bootstrapFacts(doc);
    const semantic = semanticReason(facts, options);
    if (semantic !== undefined) throw new LoadError(semantic);
    return { ok: true, bootstrap: { doc, facts, unknownFields } };
  } catch (err) {
    if (err instanceof LoadError) return { ok: false, reason: err.message };
    throw err;
  }
}
