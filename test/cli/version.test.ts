import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildInfo } from '../../src/cli/commands/build-info.js';
import { packageRoot } from '../../src/package-root.js';
import { buildStamp } from '../../tools/build-stamp.js';
import { runCli, runMain } from './helpers.js';

const root = packageRoot(import.meta.dirname) ?? process.cwd();
const gitRevision = (() => {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: 'pipe' }).trim();
  } catch {
    return undefined;
  }
})();
if (!gitRevision) console.warn('SKIPPED: no git checkout here, the revision stamp is not checked');

const info = buildInfo();
const node = `node${process.versions.node}`;

describe('pilot-agent version (istio.io/pkg version/cobra.go)', () => {
  it('reads the version from package.json and leaves unstamped fields unknown', () => {
    expect(info.version).toBe('0.1.0');
    expect(info.gitRevision).toBe('unknown');
    expect(info.buildStatus).toBe('unknown');
    expect(info.gitTag).toBe('unknown');
    expect(info.golangVersion).toBe(node);
  });

  it('prints the Go %#v long form by default', async () => {
    const { code, stdout } = await runMain(['version']);
    expect(code).toBe(0);
    expect(stdout).toBe(
      `version.BuildInfo{Version:"0.1.0", GitRevision:"unknown", GolangVersion:"${node}", BuildStatus:"unknown", GitTag:"unknown"}\n`,
    );
  });

  it.each([['--short'], ['-s'], ['--short=true'], ['-s=true']])(
    'prints only the version with %s',
    async (flag) => {
      expect((await runMain(['version', flag])).stdout).toBe('0.1.0\n');
    },
  );

  it('prints the long form with --short=false', async () => {
    expect((await runMain(['version', '--short=false'])).stdout).toMatch(/^version\.BuildInfo\{/);
  });

  it.each([['-o', 'json'], ['--output', 'json'], ['-ojson'], ['--output=json'], ['-o=json']])(
    'prints indented JSON with %s',
    async (...flags) => {
      const { stdout } = await runMain(['version', ...flags]);
      expect(stdout).toBe(
        `{\n  "clientVersion": {\n    "version": "0.1.0",\n    "revision": "unknown",\n    "golang_version": "${node}",\n    "status": "unknown",\n    "tag": "unknown"\n  }\n}\n`,
      );
    },
  );

  it('prints YAML with sorted keys and Go’s trailing blank line', async () => {
    const { stdout } = await runMain(['version', '-o', 'yaml']);
    expect(stdout).toBe(
      `clientVersion:\n  golang_version: ${node}\n  revision: unknown\n  status: unknown\n  tag: unknown\n  version: 0.1.0\n\n`,
    );
  });

  it('rejects another --output with Istio’s message and exit 255', async () => {
    const { code, stdout, stderr } = await runMain(['version', '-o', 'xml']);
    expect(code).toBe(255);
    expect(stdout).toBe('');
    expect(stderr).toBe(`--output must be 'yaml' or 'json'\n`);
  });

  it('works from the built binary', async () => {
    const result = await runCli(['version', '--short']);
    expect(result).toMatchObject({ code: 0, stdout: '0.1.0\n', stderr: '' });
  });

  it.skipIf(!gitRevision)('reports the git revision the binary was built from', async () => {
    const { code, stdout } = await runCli(['version', '-o', 'json']);
    expect(code).toBe(0);
    const { revision, status } = JSON.parse(stdout).clientVersion as Record<string, string>;
    expect(revision).toMatch(/^[0-9a-f]{40}$/);
    // A revision of this repository (the build may be older than the checkout's HEAD).
    expect(() =>
      execFileSync('git', ['cat-file', '-e', `${revision}^{commit}`], { cwd: root, stdio: 'pipe' }),
    ).not.toThrow();
    expect(['Clean', 'Modified']).toContain(status);
  });
});

describe('the build stamp (tools/build-stamp.ts)', () => {
  it.skipIf(!gitRevision)('takes the revision from git, or from PILOT_AGENT_GIT_REVISION when given', () => {
    expect(buildStamp({}, root).gitRevision).toBe(gitRevision);
    expect(buildStamp({ PILOT_AGENT_GIT_REVISION: 'abc123' }, root).gitRevision).toBe('abc123');
  });

  it('without git, the revision is PILOT_AGENT_GIT_REVISION or unknown, the rest unknown', () => {
    const bare = mkdtempSync(join(tmpdir(), 'pilot-agent-nogit-'));
    try {
      expect(buildStamp({}, bare)).toEqual({
        gitRevision: 'unknown',
        buildStatus: 'unknown',
        gitTag: 'unknown',
      });
      expect(buildStamp({ PILOT_AGENT_GIT_REVISION: 'abc123' }, bare)).toEqual({
        gitRevision: 'abc123',
        buildStatus: 'unknown',
        gitTag: 'unknown',
      });
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });
});
