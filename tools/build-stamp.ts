/**
 * What `pilot-agent version` reports beyond the package version, stamped into the bundle at build
 * time (tools/bundle.ts), as Istio's build stamps its binaries with `-ldflags -X`
 * (`common/scripts/report_build_info.sh`): the git revision, `Clean` or `Modified` for the
 * working tree, and `git describe --tags`. Without git (a container build from a copied tree),
 * `PILOT_AGENT_GIT_REVISION` gives the revision and the rest stays `unknown`.
 */
import { execFileSync } from 'node:child_process';

export interface BuildStamp {
  gitRevision: string;
  buildStatus: string;
  gitTag: string;
}

const UNKNOWN = 'unknown';

function git(cwd: string, ...args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

export function buildStamp(env: Readonly<Record<string, string | undefined>>, cwd: string): BuildStamp {
  const override = env.PILOT_AGENT_GIT_REVISION ?? '';
  const revision = git(cwd, 'rev-parse', 'HEAD');
  if (revision === undefined)
    return { gitRevision: override || UNKNOWN, buildStatus: UNKNOWN, gitTag: UNKNOWN };
  // `git diff-index --quiet HEAD` exits 1 when tracked files differ from HEAD.
  const clean = git(cwd, 'diff-index', '--quiet', 'HEAD', '--') !== undefined;
  return {
    gitRevision: override || revision,
    buildStatus: clean ? 'Clean' : 'Modified',
    gitTag: git(cwd, 'describe', '--tags', '--always') || UNKNOWN,
  };
}
