/**
 * SVG from DOT with Graphviz compiled to WebAssembly (@viz-js/viz), so every machine produces the
 * same bytes regardless of any system `dot`. The instance is created once per process: compiling
 * the WASM module is the slow part, rendering a chart takes milliseconds.
 */
import { instance, type Viz } from '@viz-js/viz';

let viz: Promise<Viz> | undefined;

export async function renderSvg(dot: string, name: string): Promise<string> {
  viz ??= instance();
  const result = (await viz).render(dot, { format: 'svg', engine: 'dot' });
  // Warnings (an lhead that cannot be honoured, a bad HTML label) mean a silently wrong picture:
  // treat them as errors so the generator and its test catch them.
  // The one expected warning: Graphviz's built-in font metrics only cover ASCII, so each byte of
  // a UTF-8 symbol (∧ ¬ « ») is measured as a space. Three bytes for one glyph err on the wide
  // side, so labels still fit. And "Unable to reclaim box space in spline routing": Graphviz still
  // draws that edge, along a less tidy route — a layout compromise, not a wrong picture.
  const problems = result.errors
    .filter(
      (e) =>
        !/no value for width of non-ASCII character|Unable to reclaim box space in spline routing/.test(
          e.message,
        ),
    )
    .map((e) => `${e.level ?? 'error'}: ${e.message.trim()}`);
  if (result.status !== 'success' || problems.length > 0) {
    throw new Error(`Graphviz could not render ${name}:\n${problems.join('\n')}`);
  }
  return result.output;
}
