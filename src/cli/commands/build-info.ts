/**
 * Build information, shaped like `istio.io/pkg/version.BuildInfo` so `pilot-agent version` prints
 * what Istio's does. The version comes from our package.json. Istio stamps the other fields at build
 * time with `-ldflags -X` and leaves them `unknown` otherwise; ours are stamped into the bundle by
 * `npm run build` (tools/build-stamp.ts: git, or `PILOT_AGENT_GIT_REVISION`), and are `unknown`
 * when these modules run unbundled (tests). `GolangVersion` carries the runtime, as Go's
 * `runtime.Version()` does: `node20.20.0`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../package-root.js';

export interface BuildInfo {
  version: string;
  gitRevision: string;
  golangVersion: string;
  buildStatus: string;
  gitTag: string;
}

const UNKNOWN = 'unknown';

function readJson(path: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function text(value: unknown): string {
  return typeof value === 'string' && value !== '' ? value : UNKNOWN;
}

/** Replaced by the bundler (esbuild `define`) with `{ gitRevision, buildStatus, gitTag }`. */
declare const PILOT_AGENT_BUILD_STAMP: Record<string, unknown> | undefined;

function stamp(): Record<string, unknown> | undefined {
  return typeof PILOT_AGENT_BUILD_STAMP === 'undefined' ? undefined : PILOT_AGENT_BUILD_STAMP;
}

let cached: BuildInfo | undefined;

export function buildInfo(): BuildInfo {
  if (cached) return cached;
  const root = packageRoot();
  const pkg = root ? readJson(join(root, 'package.json')) : undefined;
  const stamped = stamp();
  cached = Object.freeze({
    version: text(pkg?.version),
    gitRevision: text(stamped?.gitRevision),
    golangVersion: `node${process.versions.node}`,
    buildStatus: text(stamped?.buildStatus),
    gitTag: text(stamped?.gitTag),
  });
  return cached;
}

/** `BuildInfo.String()`: `<version>-<git revision>-<build status>`, logged at proxy start-up. */
export function buildInfoString(info: BuildInfo): string {
  return `${info.version}-${info.gitRevision}-${info.buildStatus}`;
}

/** `BuildInfo.LongForm()`: Go's `%#v` of the struct. */
export function buildInfoLongForm(info: BuildInfo): string {
  const q = JSON.stringify;
  return (
    `version.BuildInfo{Version:${q(info.version)}, GitRevision:${q(info.gitRevision)}, ` +
    `GolangVersion:${q(info.golangVersion)}, BuildStatus:${q(info.buildStatus)}, GitTag:${q(info.gitTag)}}`
  );
}

/** The JSON/YAML document of `version -o json|yaml` (field names as Istio's `json` tags). */
export function versionDocument(info: BuildInfo): { clientVersion: Record<string, string> } {
  return {
    clientVersion: {
      version: info.version,
      revision: info.gitRevision,
      golang_version: info.golangVersion,
      status: info.buildStatus,
      tag: info.gitTag,
    },
  };
}
