/**
 * A subset of Go's `text/template`, enough for Istio's bootstrap templates and the copies users
 * keep of them (`ISTIO_BOOTSTRAP`, `--templateFile`).
 *
 * Supported, with Go's semantics (Go ≥ 1.22 where versions differ):
 * - text and actions `{{ … }}`, trim markers `{{- ` / ` -}}`, comments `{{/* … *\/}}`;
 * - fields `.a.b`, `.`, variables `$`, `$x`, `$x.a`, chained fields on parenthesised pipelines;
 * - literals: strings (interpreted and raw), chars, ints, floats, `true`, `false`, `nil`;
 * - pipelines `a | b`, declarations `$x := …`, assignments `$x = …`, `range $i, $v := …`;
 * - `if` / `else if` / `else`, `range` (slices, maps in key order, ints) with `else`, `break`,
 *   `continue`, `with` / `else with` / `else`;
 * - functions `and`, `or` (short-circuit), `not`, `len`, `index`, `print`, `printf`, `println`,
 *   `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `js`, `html`, `urlquery`, plus caller-supplied ones (Istio's
 *   `toJSON`).
 *
 * Not supported (reported as parse errors): `define`, `template`, `block`, methods, `call`, `slice`.
 *
 * Missing keys behave as Go's default `missingkey=default`: a missing map key is the invalid value,
 * which prints as `<no value>`, is false in `if`, and yields no `range` iterations. Reading a field
 * of a struct that does not have it, or of a string, is an execution error, as in Go.
 *
 * Every parse or execution error is an `AgentError('bootstrap', '<file>:<line>: …')`.
 *
 * Split as Go's package is: lex.ts and parse.ts (`text/template/parse`), exec.ts and funcs.ts
 * (`text/template`); this module is the API (`template.go`).
 */

import { AgentError } from '../../errors.js';
import { goJsonMarshal } from '../json.js';
import type { GoValue } from '../value.js';
import { Exec, ExecError } from './exec.js';
import { BUILTINS, CallError, type GoFunc } from './funcs.js';
import { lex, TemplateSyntaxError } from './lex.js';
import { type Node, Parser } from './parse.js';

/** The functions Istio registers on top of Go's builtins (`pkg/bootstrap/instance.go`). */
export const ISTIO_TEMPLATE_FUNCS: Readonly<Record<string, GoFunc>> = {
  /** JSON of the value; nil → `{}` (Istio's helper never fails: a marshal error also gives `{}`). */
  toJSON: (value) => (value === null || value === undefined ? '{}' : goJsonMarshal(value)),
};

/** A parsed template, executable any number of times. */
export class GoTemplate {
  private constructor(
    private readonly name: string,
    private readonly nodes: Node[],
    private readonly funcs: Readonly<Record<string, GoFunc>>,
  ) {}

  /**
   * Parses `source`. `name` is what errors cite (the template's path). Functions must be known at
   * parse time, as in Go (`function "x" not defined`).
   */
  static parse(
    source: string,
    name: string,
    funcs: Readonly<Record<string, GoFunc>> = ISTIO_TEMPLATE_FUNCS,
  ): GoTemplate {
    try {
      const known = new Set([...Object.keys(BUILTINS), ...Object.keys(funcs)]);
      return new GoTemplate(name, new Parser(lex(source), known).parse(), funcs);
    } catch (err) {
      if (err instanceof TemplateSyntaxError)
        throw new AgentError('bootstrap', `${name}:${err.line}: ${err.message}`);
      throw err;
    }
  }

  /** Executes the template with `data` as both `.` and `$`. */
  execute(data: GoValue): string {
    try {
      return new Exec(this.funcs, data).run(this.nodes, data);
    } catch (err) {
      if (err instanceof ExecError)
        throw new AgentError('bootstrap', `${this.name}:${err.line}: ${err.message}`);
      if (err instanceof CallError) throw new AgentError('bootstrap', `${this.name}: ${err.message}`);
      throw err;
    }
  }
}

/** Parses and executes in one step. */
export function renderGoTemplate(
  source: string,
  data: GoValue,
  name: string,
  funcs: Readonly<Record<string, GoFunc>> = ISTIO_TEMPLATE_FUNCS,
): string {
  return GoTemplate.parse(source, name, funcs).execute(data);
}
