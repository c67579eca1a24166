/**
 * Per-epoch bootstrap files, as Istio 1.5's `envoy.Run` / `bootstrap.Instance.CreateFileForEpoch`
 * (`pkg/envoy/proxy.go`, `pkg/bootstrap/instance.go`) make them: `<configPath>/envoy-rev<N>.json`,
 * rendered just before each Envoy epoch starts and removed after it exits.
 *
 * Template choice (Istio `newTemplate` precedence): `ISTIO_BOOTSTRAP`, then `--templateFile` (both
 * already folded into `config.bootstrapTemplatePath` by the config loader), else the built-in v3
 * bootstrap (`v3.ts`). `--customConfigFile` bypasses generation entirely.
 *
 * Differences from Istio, on purpose:
 * - the file is written atomically (temporary file in the same directory, fsync, rename), so Envoy
 *   never reads a half-written bootstrap and a failure leaves nothing behind in configPath (Istio
 *   truncates and writes in place);
 * - every failure is an `AgentError('bootstrap')` (exit 1, as Istio's `os.Exit(1)`) naming the path;
 * - rendered template output is written verbatim, like Istio: a template that produces invalid JSON
 *   is Envoy's to reject, as it was with 1.5's own template (which has trailing commas).
 */

import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { AgentConfig } from '../config/types.js';
import { AgentError, messageOf } from '../errors.js';
import { GoTemplate } from '../go/template/template.js';
import { buildTemplateParams, type TemplateParamsOptions } from './params.js';
import { renderBootstrapV3 } from './v3.js';

/** Istio's `epochFileTemplate`. */
export function bootstrapPath(config: AgentConfig, epoch: number): string {
  return path.join(config.proxy.configPath, `envoy-rev${epoch}.json`);
}

export type BootstrapOptions = TemplateParamsOptions;

/** The bootstrap text for the current configuration and environment (nothing is written). */
export async function renderBootstrap(config: AgentConfig, options: BootstrapOptions = {}): Promise<string> {
  const params = await buildTemplateParams(config, options);
  const templatePath = config.bootstrapTemplatePath;
  if (!templatePath) return renderBootstrapV3(params);
  let source: string;
  try {
    source = await readFile(templatePath, 'utf8');
  } catch (err) {
    throw new AgentError(
      'bootstrap',
      `cannot read bootstrap template ${templatePath}: ${describeFsError(err)}`,
    );
  }
  return GoTemplate.parse(source, templatePath).execute(params);
}

/**
 * Writes the bootstrap for `epoch` and returns the path to give Envoy's `-c`. With
 * `--customConfigFile` that file is returned as is and nothing is written.
 */
export async function writeBootstrap(
  config: AgentConfig,
  epoch: number,
  options: BootstrapOptions = {},
): Promise<string> {
  if (config.proxy.customConfigFile) return config.proxy.customConfigFile;
  // Render first: a template error must not leave anything in configPath.
  const content = await renderBootstrap(config, options);
  const target = bootstrapPath(config, epoch);
  const dir = path.dirname(target);
  await ensureConfigDir(dir);
  const temp = path.join(
    dir,
    `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    const handle = await open(temp, 'wx', 0o666);
    try {
      await handle.writeFile(content, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (err) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw new AgentError('bootstrap', `cannot write bootstrap ${target}: ${describeFsError(err)}`);
  }
  return target;
}

/**
 * Removes the bootstrap of an epoch that has exited. A missing file is fine; any other failure is
 * returned as a warning (Istio logs it and carries on). No-op with `--customConfigFile`, which
 * Istio 1.5 did not skip (it tried to delete `envoy-rev<N>.json` anyway, and warned).
 */
export async function removeBootstrap(config: AgentConfig, epoch: number): Promise<{ warning?: string }> {
  if (config.proxy.customConfigFile) return {};
  const target = bootstrapPath(config, epoch);
  try {
    await rm(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    return { warning: `failed to delete bootstrap ${target}: ${describeFsError(err)}` };
  }
  return {};
}

/**
 * `ISTIO_BOOTSTRAP_OVERRIDE`: the file's raw contents, for Envoy's `--config-yaml`. Read at every
 * launch, as Istio does; a read failure is a warning and the argument is omitted (Istio:
 * "Failed to read bootstrap override").
 */
export async function readBootstrapOverride(
  config: AgentConfig,
): Promise<{ yaml?: string; warning?: string }> {
  const file = config.bootstrapOverridePath;
  if (!file) return {};
  try {
    return { yaml: await readFile(file, 'utf8') };
  } catch (err) {
    return { warning: `Failed to read bootstrap override ${file}: ${describeFsError(err)}` };
  }
}

/** `mkdir -p` with mode 0700 (Istio: `os.MkdirAll(ConfigPath, 0700)`), failing with the reason. */
async function ensureConfigDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') {
      const what = await stat(dir).then(
        (s) => (s.isDirectory() ? 'a parent is not a directory' : 'it exists and is not a directory'),
        () => 'a parent is not a directory',
      );
      throw new AgentError('bootstrap', `cannot create configPath ${dir}: ${what}`);
    }
    throw new AgentError('bootstrap', `cannot create configPath ${dir}: ${describeFsError(err)}`);
  }
}

function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'a parent is not a directory';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'no space left on device';
    default:
      return messageOf(err);
  }
}
