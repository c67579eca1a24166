/**
 * commander options generated from the flag tables (src/config/flags.ts), so `--help` lists every
 * flag with its type, description and Istio default, and nothing about a flag is written twice.
 * Go's `--help` omits zero defaults (`""`, `0`, `false`); so do we.
 */
import { Option } from 'commander';
import { defaultText, type FlagSpec } from '../config/flags.js';

function helpText(spec: FlagSpec): string {
  const tags: string[] = [];
  if (!spec.implemented) tags.push('accepted for compatibility, not implemented');
  if (spec.origin === 'ours') tags.push('not in Istio');
  return tags.length > 0 ? `${spec.description} [${tags.join('; ')}]` : spec.description;
}

export function commanderOption(name: string, spec: FlagSpec): Option {
  const placeholder = spec.type === 'bool' ? '[bool]' : `<${spec.type}>`;
  const option = new Option(
    `${spec.short ? `-${spec.short}, ` : ''}--${name} ${placeholder}`,
    helpText(spec),
  );
  const zero = spec.default === '' || spec.default === 0 || spec.default === false;
  if (!zero) {
    const text = defaultText(spec);
    option.default(text, text);
  }
  return option;
}

export function commanderOptions(table: Readonly<Record<string, FlagSpec>>): Option[] {
  return Object.entries(table).map(([name, spec]) => commanderOption(name, spec));
}
