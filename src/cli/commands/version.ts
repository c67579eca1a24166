/**
 * `pilot-agent version [--short|-s] [--output|-o yaml|json]`, as `istio.io/pkg` `version/cobra.go`:
 * the Go `%#v` long form by default, the bare version with `--short`, and the
 * `{"clientVersion": {...}}` document as 2-space JSON or as YAML (keys sorted, as ghodss/yaml
 * writes them, followed by the extra newline of Go's `Fprintln`).
 */
import { createRequire } from 'node:module';
import type { VersionFlagValues } from '../../config/flags.js';
import { usageError } from '../../errors.js';
import { type BuildInfo, buildInfoLongForm, versionDocument } from './build-info.js';

export function versionOutput(flags: VersionFlagValues, info: BuildInfo): string {
  const { output, short } = flags;
  if (output !== '' && output !== 'yaml' && output !== 'json')
    throw usageError(`--output must be 'yaml' or 'json'`);
  if (output === 'json') return `${JSON.stringify(versionDocument(info), null, 2)}\n`;
  if (output === 'yaml') {
    // Loaded on demand: only `version -o yaml` needs a YAML writer.
    const { stringify } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
    return `${stringify(versionDocument(info), { sortMapEntries: true })}\n`;
  }
  return `${short ? info.version : buildInfoLongForm(info)}\n`;
}
