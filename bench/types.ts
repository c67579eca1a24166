/** One section of BENCHMARKS.md, as every `bench/*.ts` file's `run()` returns it. */
export interface BenchSection {
  title: string;
  /** How the numbers were obtained: tools, durations, machine-relevant settings. */
  method: string;
  rows: Array<Record<string, string | number>>;
  targets: Array<{ name: string; value: number; target: string; pass: boolean }>;
}
