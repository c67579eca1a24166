/**
 * The parser of Go's `text/template/parse` (`parse.go`, `node.go`): tokens into the tree of text,
 * actions and `if` / `range` / `with` nodes that exec.ts walks. Checks Go makes at parse time are
 * made here: variables must be declared, functions must be known, `break` and `continue` only
 * inside `range`.
 */

import { GoFloat, type GoValue } from '../value.js';
import { TemplateSyntaxError, type Token, unquoteGo } from './lex.js';

export type Arg =
  | { t: 'field'; line: number; idents: string[] }
  | { t: 'chain'; line: number; node: Arg; idents: string[] }
  | { t: 'var'; line: number; name: string; idents: string[] }
  | { t: 'ident'; line: number; name: string }
  | { t: 'dot'; line: number }
  | { t: 'nil'; line: number }
  | { t: 'literal'; line: number; value: GoValue; text: string }
  | { t: 'pipe'; line: number; pipe: Pipe };

export interface Cmd {
  line: number;
  args: Arg[];
}

export interface Pipe {
  line: number;
  decl: string[];
  isAssign: boolean;
  cmds: Cmd[];
}

export interface ControlNode {
  t: 'if' | 'with' | 'range';
  line: number;
  pipe: Pipe;
  list: Node[];
  elseList: Node[] | null;
}

export type Node =
  | { t: 'text'; text: string }
  | { t: 'action'; line: number; pipe: Pipe }
  | ControlNode
  | { t: 'break' | 'continue'; line: number };

type Terminator = { kind: 'end' | 'else' | 'eof'; line: number; chained?: 'if' | 'with' };

export class Parser {
  private i = 0;
  /** Declared variables, innermost last (Go checks variable use at parse time). */
  private vars: string[] = ['$'];
  private rangeDepth = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly funcs: ReadonlySet<string>,
  ) {}

  parse(): Node[] {
    const { nodes, term } = this.list();
    if (term.kind !== 'eof') throw new TemplateSyntaxError(term.line, `unexpected {{${term.kind}}}`);
    return nodes;
  }

  private peek(): Token {
    return this.tokens[this.i] ?? { kind: 'eof', text: '', line: 0 };
  }

  private next(): Token {
    const tok = this.peek();
    if (this.i < this.tokens.length) this.i++;
    return tok;
  }

  private nextNonSpace(): Token {
    let tok = this.next();
    while (tok.kind === 'space') tok = this.next();
    return tok;
  }

  private peekNonSpace(): Token {
    const save = this.i;
    const tok = this.nextNonSpace();
    this.i = save;
    return tok;
  }

  private expectRight(context: string): void {
    const tok = this.nextNonSpace();
    if (tok.kind !== 'right')
      throw new TemplateSyntaxError(tok.line, `unexpected ${describe(tok)} in ${context}`);
  }

  /** Nodes up to `{{end}}`, `{{else …}}` or EOF. */
  private list(): { nodes: Node[]; term: Terminator } {
    const nodes: Node[] = [];
    for (;;) {
      const tok = this.next();
      if (tok.kind === 'eof') return { nodes, term: { kind: 'eof', line: tok.line } };
      if (tok.kind === 'text') {
        nodes.push({ t: 'text', text: tok.text });
        continue;
      }
      // tok is a left delimiter
      const afterLeft = this.i;
      const first = this.nextNonSpace();
      if (first.kind === 'keyword') {
        switch (first.text) {
          case 'end':
            this.expectRight('end');
            return { nodes, term: { kind: 'end', line: first.line } };
          case 'else': {
            const after = this.peekNonSpace();
            if (after.kind === 'keyword' && (after.text === 'if' || after.text === 'with')) {
              this.nextNonSpace();
              return { nodes, term: { kind: 'else', line: first.line, chained: after.text } };
            }
            this.expectRight('else');
            return { nodes, term: { kind: 'else', line: first.line } };
          }
          case 'if':
          case 'with':
          case 'range':
            nodes.push(this.control(first.text, first.line));
            continue;
          case 'break':
          case 'continue':
            if (this.rangeDepth === 0) {
              throw new TemplateSyntaxError(first.line, `{{${first.text}}} outside {{range}}`);
            }
            this.expectRight(first.text);
            nodes.push({ t: first.text, line: first.line });
            continue;
          default:
            throw new TemplateSyntaxError(first.line, `unsupported action "${first.text}"`);
        }
      }
      this.i = afterLeft;
      const pipe = this.pipeline('command', 'right', first.line);
      nodes.push({ t: 'action', line: first.line, pipe });
    }
  }

  private control(kind: 'if' | 'with' | 'range', line: number): Node {
    const mark = this.vars.length;
    const pipe = this.pipeline(kind, 'right', line);
    if (kind === 'range') this.rangeDepth++;
    const body = this.list();
    if (kind === 'range') this.rangeDepth--;
    let elseList: Node[] | null = null;
    let term = body.term;
    if (term.kind === 'else') {
      if (term.chained) {
        if (kind === 'range' || term.chained !== kind) {
          throw new TemplateSyntaxError(term.line, `unexpected "${term.chained}" after {{else}} in ${kind}`);
        }
        // `{{else if x}}` is `{{else}}{{if x}}…{{end}}` sharing the outer {{end}}, as Go rewrites it.
        elseList = [this.control(term.chained, term.line)];
        this.vars.length = mark;
        return { t: kind, line, pipe, list: body.nodes, elseList };
      }
      const alt = this.list();
      elseList = alt.nodes;
      term = alt.term;
    }
    if (term.kind !== 'end') {
      throw new TemplateSyntaxError(
        term.kind === 'eof' ? line : term.line,
        term.kind === 'eof'
          ? `unexpected EOF: "${kind}" has no matching {{end}}`
          : `unexpected {{else}} in ${kind}`,
      );
    }
    this.vars.length = mark;
    return { t: kind, line, pipe, list: body.nodes, elseList };
  }

  private pipeline(context: string, end: 'right' | 'rparen', line: number): Pipe {
    const pipe: Pipe = { line, decl: [], isAssign: false, cmds: [] };
    // Declarations: `$x :=`, `$x =`, `$i, $v :=` (the last only in range).
    const save = this.i;
    const v = this.nextNonSpace();
    if (v.kind === 'var') {
      const op = this.nextNonSpace();
      if (op.kind === 'declare' || op.kind === 'assign') {
        pipe.decl.push(v.text);
        pipe.isAssign = op.kind === 'assign';
      } else if (op.kind === 'comma' && context === 'range') {
        const v2 = this.nextNonSpace();
        const op2 = this.nextNonSpace();
        if (v2.kind !== 'var' || (op2.kind !== 'declare' && op2.kind !== 'assign')) {
          throw new TemplateSyntaxError(v2.line, 'range can only initialize variables');
        }
        pipe.decl.push(v.text, v2.text);
        pipe.isAssign = op2.kind === 'assign';
      } else if (op.kind === 'comma') {
        throw new TemplateSyntaxError(op.line, `too many declarations in ${context}`);
      } else {
        this.i = save;
      }
    } else {
      this.i = save;
    }
    for (const name of pipe.decl) {
      if (pipe.isAssign) this.useVar(name, line);
      else this.vars.push(name);
    }

    for (;;) {
      const tok = this.peekNonSpace();
      if (tok.kind === end) {
        this.nextNonSpace();
        break;
      }
      if (tok.kind === 'eof' || tok.kind === 'right' || tok.kind === 'rparen') {
        throw new TemplateSyntaxError(tok.line, `unexpected ${describe(tok)} in ${context}`);
      }
      pipe.cmds.push(this.command());
    }
    if (pipe.cmds.length === 0) throw new TemplateSyntaxError(line, `missing value for ${context}`);
    pipe.cmds.slice(1).forEach((cmd, i) => {
      const first = cmd.args[0];
      if (first && (first.t === 'literal' || first.t === 'dot' || first.t === 'nil')) {
        throw new TemplateSyntaxError(cmd.line, `non executable command in pipeline stage ${i + 2}`);
      }
    });
    return pipe;
  }

  private command(): Cmd {
    const first = this.peekNonSpace();
    const cmd: Cmd = { line: first.line, args: [] };
    for (;;) {
      this.skipSpace();
      const arg = this.operand();
      if (!arg) {
        const tok = this.peek();
        throw new TemplateSyntaxError(tok.line, `unexpected ${describe(tok)} in operand`);
      }
      cmd.args.push(arg);
      const tok = this.peek();
      if (tok.kind === 'space') {
        const after = this.peekNonSpace();
        if (after.kind === 'pipe') {
          this.nextNonSpace();
          return cmd;
        }
        if (after.kind === 'right' || after.kind === 'rparen') return cmd;
        continue;
      }
      if (tok.kind === 'right' || tok.kind === 'rparen') return cmd;
      if (tok.kind === 'pipe') {
        this.next();
        return cmd;
      }
      throw new TemplateSyntaxError(tok.line, `unexpected ${describe(tok)} in operand`);
    }
  }

  private skipSpace(): void {
    while (this.peek().kind === 'space') this.next();
  }

  private operand(): Arg | null {
    const node = this.term();
    if (!node) return null;
    if (this.peek().kind !== 'field') return node;
    const idents: string[] = [];
    while (this.peek().kind === 'field') idents.push(this.next().text.slice(1));
    switch (node.t) {
      case 'field':
        return { ...node, idents: [...node.idents, ...idents] };
      case 'var':
        return { ...node, idents: [...node.idents, ...idents] };
      case 'literal':
      case 'nil':
      case 'dot':
        throw new TemplateSyntaxError(node.line, `unexpected . after term "${argText(node)}"`);
      default:
        return { t: 'chain', line: node.line, node, idents };
    }
  }

  private term(): Arg | null {
    const tok = this.next();
    switch (tok.kind) {
      case 'ident':
        if (!this.funcs.has(tok.text))
          throw new TemplateSyntaxError(tok.line, `function "${tok.text}" not defined`);
        return { t: 'ident', line: tok.line, name: tok.text };
      case 'dot':
        return { t: 'dot', line: tok.line };
      case 'nil':
        return { t: 'nil', line: tok.line };
      case 'var': {
        const [name = '$', ...idents] = tok.text.split('.');
        this.useVar(name, tok.line);
        return { t: 'var', line: tok.line, name, idents };
      }
      case 'field':
        return { t: 'field', line: tok.line, idents: tok.text.slice(1).split('.') };
      case 'bool':
        return { t: 'literal', line: tok.line, value: tok.text === 'true', text: tok.text };
      case 'string':
        return { t: 'literal', line: tok.line, value: tok.text, text: JSON.stringify(tok.text) };
      case 'number':
        return { t: 'literal', line: tok.line, value: parseNumber(tok.text, tok.line), text: tok.text };
      case 'char':
        return {
          t: 'literal',
          line: tok.line,
          value: unquoteGo(tok.text, tok.line).codePointAt(0) ?? 0,
          text: tok.text,
        };
      case 'lparen': {
        const pipe = this.pipeline('parenthesized pipeline', 'rparen', tok.line);
        return { t: 'pipe', line: tok.line, pipe };
      }
      default:
        this.i--;
        return null;
    }
  }

  private useVar(name: string, line: number): void {
    if (!this.vars.includes(name)) throw new TemplateSyntaxError(line, `undefined variable "${name}"`);
  }
}

function describe(tok: Token): string {
  switch (tok.kind) {
    case 'eof':
      return 'EOF';
    case 'right':
      return '"}}"';
    case 'rparen':
      return '")"';
    default:
      return `"${tok.text}"`;
  }
}

function parseNumber(text: string, line: number): GoValue {
  const clean = text.replace(/_/g, '');
  if (clean.endsWith('i')) throw new TemplateSyntaxError(line, `complex numbers are not supported: ${text}`);
  let value: number;
  let isFloat = false;
  if (/^[+-]?0[xX]/.test(clean)) {
    isFloat = /[.pP]/.test(clean);
    value = isFloat
      ? Number.NaN
      : Number.parseInt(clean.replace(/0[xX]/, ''), 16) * (clean.startsWith('-') ? -1 : 1);
  } else if (/^[+-]?0[oO]/.test(clean)) {
    value = Number.parseInt(clean.replace(/0[oO]/, ''), 8) * (clean.startsWith('-') ? -1 : 1);
  } else if (/^[+-]?0[bB]/.test(clean)) {
    value = Number.parseInt(clean.replace(/0[bB]/, ''), 2) * (clean.startsWith('-') ? -1 : 1);
  } else if (/^[+-]?0[0-7]+$/.test(clean)) {
    value = Number.parseInt(clean, 8);
  } else {
    isFloat = /[.eE]/.test(clean);
    value = Number(clean);
  }
  if (Number.isNaN(value)) throw new TemplateSyntaxError(line, `illegal number syntax: "${text}"`);
  return isFloat ? new GoFloat(value) : value;
}

export function argText(arg: Arg): string {
  switch (arg.t) {
    case 'field':
      return `.${arg.idents.join('.')}`;
    case 'chain':
      return `${argText(arg.node)}.${arg.idents.join('.')}`;
    case 'var':
      return [arg.name, ...arg.idents].join('.');
    case 'ident':
      return arg.name;
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'literal':
      return arg.text;
    case 'pipe':
      return `(${arg.pipe.cmds.map((c) => c.args.map(argText).join(' ')).join(' | ')})`;
  }
}
