/**
 * The one error catalogue of pilot-agent: every failure the agent reports to its user has a kind
 * here, and every kind has exactly one process exit code. README "Exit codes" lists the same table
 * (a test keeps them in step). Codes are never reused for a different meaning.
 *
 * Istio's own codes are kept where Istio defines them: 255 for command-line, environment and
 * configuration errors (Go's `os.Exit(-1)`), 1 for a bootstrap that cannot be generated, 0 when
 * Envoy exits on its own or after a signal-driven shutdown. The rest are ours, for behaviours
 * Istio 1.5 does not have (restart budget, spawn errors, an Envoy that will not die).
 */
export const EXIT_CODES = {
  /** Clean shutdown, or Envoy exited 0 on its own. */
  ok: 0,
  /**
   * The Envoy bootstrap could not be generated (template, configPath, override file), or, in SDS
   * mode, the SDS socket it names cannot be served. Istio: 1 (and a fatal log for its SDS server).
   */
  bootstrap: 1,
  /** Envoy kept crashing: the restart budget is spent. */
  'crash-loop': 3,
  /** An Envoy process survived SIGTERM and SIGKILL at shutdown. */
  'envoy-stuck': 4,
  /** An unexpected error inside the agent (a bug): Envoy is killed, then the agent exits. */
  internal: 70,
  /** `--binaryPath` exists but cannot be executed (EACCES), as a shell reports it. */
  'envoy-not-executable': 126,
  /** `--binaryPath` does not exist (ENOENT), as a shell reports it. */
  'envoy-not-found': 127,
  /** Invalid flag, argument or environment variable; the agent did not start Envoy. Istio: 255. */
  usage: 255,
} as const;

export type ErrorKind = Exclude<keyof typeof EXIT_CODES, 'ok'>;

/**
 * How a run ended: the process exit code (one of EXIT_CODES) and, for the user, why. The lifecycle
 * machine ends with one and the CLI prints its reason on stderr when the code is not 0.
 */
export interface RunOutcome {
  exitCode: number;
  reason: string;
}

/** Text on one line: line breaks and the blanks around them become one space. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}

/**
 * An error meant for the user: a single line that names the flag, file or field at fault. The CLI
 * prints `message` (never a stack) and exits with `exitCode`.
 */
export class AgentError extends Error {
  override readonly name = 'AgentError';
  readonly kind: ErrorKind;

  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(oneLine(message), options);
    this.kind = kind;
  }

  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

/** A usage error: a bad flag, argument or environment variable (exit 255, as Istio). */
export function usageError(message: string): AgentError {
  return new AgentError('usage', message);
}

/** The message of any thrown value, on one line. */
export function messageOf(err: unknown): string {
  return oneLine(err instanceof Error ? err.message : String(err));
}
