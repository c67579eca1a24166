/**
 * Fields a Kubernetes object may have, from the type declarations kubernetes-models generates out of
 * Kubernetes' OpenAPI document. The schema validation (`Model.validate()`) checks types, required
 * fields and enums but, like the OpenAPI schema itself, lets unknown fields through; the API server
 * rejects them only at apply time (strict field validation). This finds them offline, so a misspelt
 * field (say `readOnlyRootFilesytem`) cannot silently drop a setting from the manifests.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Exported type name (e.g. `IIoK8sApiCoreV1Container`) → field name → declared type text. */
export type FieldTable = ReadonlyMap<string, ReadonlyMap<string, string>>;

function declarationFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.isDirectory()) return entry.name === '_schemas' ? [] : declarationFiles(join(dir, entry.name));
    return entry.name.endsWith('.d.ts') ? [join(dir, entry.name)] : [];
  });
}

/** Reads every `export interface` of the packages' `.d.ts` files, keyed by its exported alias. */
export function readFieldTable(packageDirs: readonly string[]): FieldTable {
  const table = new Map<string, Map<string, string>>();
  for (const file of packageDirs.flatMap(declarationFiles)) {
    const text = readFileSync(file, 'utf8');
    const aliases = new Map<string, string>();
    for (const m of text.matchAll(/\b(I\w+) as (IIo\w+)/g)) if (m[1] && m[2]) aliases.set(m[1], m[2]);
    for (const m of text.matchAll(/^export interface (I\w+)(?: extends ([\w, ]+))? \{\n([\s\S]*?)\n\}/gm)) {
      const [, local = '', parents = '', body = ''] = m;
      const fields = new Map<string, string>();
      if (parents.includes('TypeMeta')) {
        fields.set('apiVersion', 'string');
        fields.set('kind', 'string');
      }
      // Members sit at four spaces; a map type's own lines are indented further.
      for (const line of body.matchAll(/^ {4}"([^"]+)"\??: (.*)$/gm)) {
        if (line[1] && line[2] !== undefined) fields.set(line[1], line[2].replace(/;$/, ''));
      }
      table.set(aliases.get(local) ?? local, fields);
    }
  }
  return table;
}

/** Paths (`spec.template.spec.containers[0].foo`) of fields the declared types do not have. */
export function unknownFields(value: unknown, type: string, table: FieldTable, path = ''): string[] {
  const fields = table.get(type);
  if (fields === undefined || value === null || typeof value !== 'object' || Array.isArray(value)) return [];
  const out: string[] = [];
  for (const [key, inner] of Object.entries(value)) {
    const where = path === '' ? key : `${path}.${key}`;
    const declared = fields.get(key);
    if (declared === undefined) {
      out.push(where);
      continue;
    }
    const list = /^Array<(\w+)>$/.exec(declared);
    if (list?.[1] && Array.isArray(inner)) {
      const itemType = list[1];
      inner.forEach((item, i) => {
        out.push(...unknownFields(item, itemType, table, `${where}[${i}]`));
      });
    } else if (/^\w+$/.test(declared)) {
      out.push(...unknownFields(inner, declared, table, where));
    }
  }
  return out;
}
