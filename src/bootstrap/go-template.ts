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
 */

import { AgentError } from '../errors.js';
import { goJsonMarshal } from './go-json.js';
import {
  compareGoStrings,
  GoEnum,
  GoFloat,
  GoNilPointer,
  GoStringer,
  GoStruct,
  type GoValue,
  goFormat,
  goTruth,
  goTypeName,
  isGoMap,
  sortedKeys,
} from './go-value.js';

/** A template function. `undefined` arguments are Go's invalid value (a missing key). */
export type GoFunc = (...args: GoValue[]) => GoValue;

/** The functions Istio registers on top of Go's builtins (`pkg/bootstrap/instance.go`). */
export const ISTIO_TEMPLATE_FUNCS: Readonly<Record<string, GoFunc>> = {
  /** JSON of the value; nil → `{}` (Istio's helper never fails: a marshal error also gives `{}`). */
  toJSON: (value) => (value === null || value === undefined ? '{}' : goJsonMarshal(value)),
};

// ---------------------------------------------------------------------------------------------
// Lexer

type TokKind =
  | 'text'
  | 'left'
  | 'right'
  | 'space'
  | 'field'
  | 'dot'
  | 'var'
  | 'ident'
  | 'keyword'
  | 'bool'
  | 'nil'
  | 'string'
  | 'number'
  | 'char'
  | 'pipe'
  | 'lparen'
  | 'rparen'
  | 'declare'
  | 'assign'
  | 'comma'
  | 'eof';

interface Token {
  kind: TokKind;
  /** Source text (for strings: the decoded value; for numbers and chars: the literal). */
  text: string;
  line: number;
}

const KEYWORDS = new Set([
  'block',
  'break',
  'continue',
  'define',
  'else',
  'end',
  'if',
  'range',
  'template',
  'with',
]);

class TemplateSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

function isSpace(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';
}

function isAlphaNumeric(ch: string | undefined): boolean {
  return ch !== undefined && /^[\p{L}\p{Nd}_]$/u.test(ch);
}

function lex(src: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  let line = 1;
  const countLines = (from: number, to: number): void => {
    for (let i = from; i < to; i++) if (src[i] === '\n') line++;
  };
  // Go: a left trim marker is "-" followed by a space; a right one is a space followed by "-".
  const atRightDelim = (p: number): { at: boolean; trim: boolean; len: number } => {
    if (isSpace(src[p]) && src[p + 1] === '-' && src.startsWith('}}', p + 2)) {
      return { at: true, trim: true, len: 4 };
    }
    if (src.startsWith('}}', p)) return { at: true, trim: false, len: 2 };
    return { at: false, trim: false, len: 0 };
  };
  const skipTrimmedSpace = (): void => {
    const start = pos;
    while (pos < src.length && isSpace(src[pos])) pos++;
    countLines(start, pos);
  };

  while (pos < src.length) {
    const open = src.indexOf('{{', pos);
    if (open < 0) {
      tokens.push({ kind: 'text', text: src.slice(pos), line });
      countLines(pos, src.length);
      pos = src.length;
      break;
    }
    const leftTrim = src[open + 2] === '-' && isSpace(src[open + 3]);
    let text = src.slice(pos, open);
    if (leftTrim) text = text.replace(/[ \t\r\n]+$/, '');
    if (text.length > 0) tokens.push({ kind: 'text', text, line });
    countLines(pos, open);
    pos = open + 2 + (leftTrim ? 2 : 0);
    const actionLine = line;

    if (src.startsWith('/*', pos)) {
      const close = src.indexOf('*/', pos + 2);
      if (close < 0) throw new TemplateSyntaxError(actionLine, 'unclosed comment');
      countLines(pos, close + 2);
      pos = close + 2;
      const delim = atRightDelim(pos);
      if (!delim.at) throw new TemplateSyntaxError(line, 'comment ends before closing delimiter');
      pos += delim.len;
      if (delim.trim) skipTrimmedSpace();
      continue;
    }

    tokens.push({ kind: 'left', text: '{{', line: actionLine });
    let parenDepth = 0;
    for (;;) {
      const delim = atRightDelim(pos);
      if (delim.at) {
        if (parenDepth !== 0) throw new TemplateSyntaxError(line, 'unclosed left paren');
        tokens.push({ kind: 'right', text: '}}', line });
        pos += delim.len;
        if (delim.trim) skipTrimmedSpace();
        break;
      }
      const ch = src[pos];
      if (ch === undefined) throw new TemplateSyntaxError(actionLine, 'unclosed action');
      const tokLine = line;
      if (isSpace(ch)) {
        const start = pos;
        // Stop before a space that begins " -}}": it belongs to the delimiter.
        while (isSpace(src[pos]) && !atRightDelim(pos).trim) pos++;
        countLines(start, pos);
        tokens.push({ kind: 'space', text: ' ', line: tokLine });
        continue;
      }
      if (ch === '=') {
        tokens.push({ kind: 'assign', text: '=', line });
        pos++;
        continue;
      }
      if (ch === ':') {
        if (src[pos + 1] !== '=') throw new TemplateSyntaxError(line, 'expected :=');
        tokens.push({ kind: 'declare', text: ':=', line });
        pos += 2;
        continue;
      }
      if (ch === '|') {
        tokens.push({ kind: 'pipe', text: '|', line });
        pos++;
        continue;
      }
      if (ch === ',') {
        tokens.push({ kind: 'comma', text: ',', line });
        pos++;
        continue;
      }
      if (ch === '(') {
        tokens.push({ kind: 'lparen', text: '(', line });
        parenDepth++;
        pos++;
        continue;
      }
      if (ch === ')') {
        tokens.push({ kind: 'rparen', text: ')', line });
        parenDepth--;
        if (parenDepth < 0) throw new TemplateSyntaxError(line, 'unexpected right paren');
        pos++;
        continue;
      }
      if (ch === '"') {
        const end = scanQuoted(src, pos, '"');
        if (end < 0) throw new TemplateSyntaxError(line, 'unterminated quoted string');
        tokens.push({ kind: 'string', text: unquoteGo(src.slice(pos, end + 1), line), line });
        pos = end + 1;
        continue;
      }
      if (ch === '`') {
        const end = src.indexOf('`', pos + 1);
        if (end < 0) throw new TemplateSyntaxError(line, 'unterminated raw quoted string');
        tokens.push({ kind: 'string', text: src.slice(pos + 1, end), line });
        countLines(pos, end);
        pos = end + 1;
        continue;
      }
      if (ch === "'") {
        const end = scanQuoted(src, pos, "'");
        if (end < 0) throw new TemplateSyntaxError(line, 'unterminated character constant');
        tokens.push({ kind: 'char', text: src.slice(pos, end + 1), line });
        pos = end + 1;
        continue;
      }
      if (ch === '$' || (ch === '.' && !/[0-9]/.test(src[pos + 1] ?? ''))) {
        const start = pos;
        pos++;
        while (isAlphaNumeric(src[pos])) pos++;
        checkTerminator(src, pos, line);
        const word = src.slice(start, pos);
        tokens.push({ kind: ch === '$' ? 'var' : word === '.' ? 'dot' : 'field', text: word, line });
        continue;
      }
      if (ch === '.' || ch === '+' || ch === '-' || /[0-9]/.test(ch)) {
        const m =
          /^[+-]?(?:0[xX][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?[0-9_]+)?|0[oObB][0-9_]+|(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?(?:[eE][+-]?[0-9_]+)?)i?/.exec(
            src.slice(pos),
          );
        const lit = m?.[0] ?? '';
        if (lit === '' || lit === '+' || lit === '-' || isAlphaNumeric(src[pos + lit.length])) {
          throw new TemplateSyntaxError(line, `bad number syntax: "${src.slice(pos, pos + lit.length + 1)}"`);
        }
        tokens.push({ kind: 'number', text: lit, line });
        pos += lit.length;
        continue;
      }
      if (isAlphaNumeric(ch)) {
        const start = pos;
        while (isAlphaNumeric(src[pos])) pos++;
        checkTerminator(src, pos, line);
        const word = src.slice(start, pos);
        const kind: TokKind = KEYWORDS.has(word)
          ? 'keyword'
          : word === 'true' || word === 'false'
            ? 'bool'
            : word === 'nil'
              ? 'nil'
              : 'ident';
        tokens.push({ kind, text: word, line });
        continue;
      }
      throw new TemplateSyntaxError(line, `unrecognized character in action: ${JSON.stringify(ch)}`);
    }
  }
  tokens.push({ kind: 'eof', text: '', line });
  return tokens;
}

function checkTerminator(src: string, pos: number, line: number): void {
  const ch = src[pos];
  if (ch === undefined || isSpace(ch) || '.,|:()'.includes(ch) || src.startsWith('}}', pos)) return;
  throw new TemplateSyntaxError(line, `bad character ${JSON.stringify(ch)}`);
}

/** Index of the closing quote of a Go string/char literal starting at `start`, or -1. */
function scanQuoted(src: string, start: number, quote: string): number {
  for (let i = start + 1; i < src.length; i++) {
    const ch = src[i];
    if (ch === '\\') {
      i++;
      continue;
    }
    if (ch === '\n') return -1;
    if (ch === quote) return i;
  }
  return -1;
}

/** Go's `strconv.Unquote` for an interpreted string or char literal (quotes included). */
function unquoteGo(lit: string, line: number): string {
  const body = lit.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i] as string;
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const esc = body[++i];
    const simple: Record<string, string> = {
      a: '\x07',
      b: '\b',
      f: '\f',
      n: '\n',
      r: '\r',
      t: '\t',
      v: '\v',
      '\\': '\\',
    };
    if (esc !== undefined && esc in simple) {
      out += simple[esc];
    } else if (esc === lit[0]) {
      out += esc;
    } else if (esc === 'x' || esc === 'u' || esc === 'U') {
      const n = esc === 'x' ? 2 : esc === 'u' ? 4 : 8;
      const hex = body.slice(i + 1, i + 1 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) {
        throw new TemplateSyntaxError(line, `invalid syntax in ${lit}`);
      }
      out +=
        esc === 'x'
          ? String.fromCharCode(Number.parseInt(hex, 16))
          : String.fromCodePoint(Number.parseInt(hex, 16));
      i += n;
    } else if (esc !== undefined && /[0-7]/.test(esc)) {
      const oct = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct)) throw new TemplateSyntaxError(line, `invalid syntax in ${lit}`);
      out += String.fromCharCode(Number.parseInt(oct, 8));
      i += 2;
    } else {
      throw new TemplateSyntaxError(line, `invalid syntax in ${lit}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parse tree

type Arg =
  | { t: 'field'; line: number; idents: string[] }
  | { t: 'chain'; line: number; node: Arg; idents: string[] }
  | { t: 'var'; line: number; name: string; idents: string[] }
  | { t: 'ident'; line: number; name: string }
  | { t: 'dot'; line: number }
  | { t: 'nil'; line: number }
  | { t: 'literal'; line: number; value: GoValue; text: string }
  | { t: 'pipe'; line: number; pipe: Pipe };

interface Cmd {
  line: number;
  args: Arg[];
}

interface Pipe {
  line: number;
  decl: string[];
  isAssign: boolean;
  cmds: Cmd[];
}

interface ControlNode {
  t: 'if' | 'with' | 'range';
  line: number;
  pipe: Pipe;
  list: Node[];
  elseList: Node[] | null;
}

type Node =
  | { t: 'text'; text: string }
  | { t: 'action'; line: number; pipe: Pipe }
  | ControlNode
  | { t: 'break' | 'continue'; line: number };

type Terminator = { kind: 'end' | 'else' | 'eof'; line: number; chained?: 'if' | 'with' };

class Parser {
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

function argText(arg: Arg): string {
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

// ---------------------------------------------------------------------------------------------
// Execution

/** "No final argument" (Go's `missingVal`), distinct from an invalid value passed down a pipeline. */
const NO_FINAL: unique symbol = Symbol('no final');
type Final = GoValue | typeof NO_FINAL;

class ExecError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

class LoopControl {
  constructor(readonly kind: 'break' | 'continue') {}
}

interface Variable {
  name: string;
  value: GoValue;
}

type Builtin = (state: Exec, line: number, args: Arg[], dot: GoValue, final: Final) => GoValue;

class Exec {
  private vars: Variable[];
  private out = '';
  private line = 0;

  constructor(
    private readonly funcs: Readonly<Record<string, GoFunc>>,
    root: GoValue,
  ) {
    this.vars = [{ name: '$', value: root }];
  }

  run(nodes: Node[], dot: GoValue): string {
    this.walkList(nodes, dot);
    return this.out;
  }

  fail(message: string, line = this.line): never {
    throw new ExecError(line, message);
  }

  private walkList(nodes: Node[], dot: GoValue): void {
    for (const node of nodes) this.walk(node, dot);
  }

  private walk(node: Node, dot: GoValue): void {
    switch (node.t) {
      case 'text':
        this.out += node.text;
        return;
      case 'action': {
        this.line = node.line;
        const value = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.out += goFormat(value);
        return;
      }
      case 'if':
      case 'with': {
        this.line = node.line;
        const mark = this.vars.length;
        const value = this.evalPipeline(dot, node.pipe);
        if (goTruth(value)) this.walkList(node.list, node.t === 'with' ? value : dot);
        else if (node.elseList) this.walkList(node.elseList, dot);
        this.vars.length = mark;
        return;
      }
      case 'range':
        this.walkRange(node, dot);
        return;
      case 'break':
      case 'continue':
        throw new LoopControl(node.t);
    }
  }

  private walkRange(node: ControlNode, dot: GoValue): void {
    this.line = node.line;
    const mark = this.vars.length;
    const value = this.evalPipeline(dot, node.pipe);
    const bodyMark = this.vars.length;
    const pipe = node.pipe;
    let iterations = 0;
    const one = (index: GoValue, elem: GoValue): boolean => {
      iterations++;
      // The last declared variable gets the element, the first (of two) the index or key.
      if (pipe.decl.length > 0)
        this.setVar(pipe.decl[pipe.decl.length - 1] as string, elem, !pipe.isAssign, bodyMark);
      if (pipe.decl.length > 1) this.setVar(pipe.decl[0] as string, index, !pipe.isAssign, bodyMark);
      try {
        this.walkList(node.list, elem);
      } catch (err) {
        if (!(err instanceof LoopControl)) throw err;
        if (err.kind === 'break') return false;
      } finally {
        this.vars.length = bodyMark;
      }
      return true;
    };
    if (value === undefined) {
      // Go: ranging over an invalid value (a missing key) is not an error, just empty.
    } else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) if (!one(i, value[i])) break;
    } else if (typeof value === 'number') {
      if (pipe.decl.length > 1)
        this.fail(`can't use ${value} to iterate over more than one variable`, node.line);
      for (let i = 0; i < value; i++) if (!one(i, i)) break;
    } else if (isGoMap(value)) {
      for (const key of sortedKeys(value)) {
        if (value[key] === undefined) continue;
        if (!one(key, value[key])) break;
      }
    } else {
      this.fail(`range can't iterate over ${goFormat(value)}`, node.line);
    }
    this.vars.length = mark;
    if (iterations === 0 && node.elseList) this.walkList(node.elseList, dot);
  }

  private setVar(name: string, value: GoValue, declare: boolean, mark: number): void {
    if (declare) {
      // Declared by the range clause: the slot was pushed by evalPipeline just below the body mark.
      for (let i = mark - 1; i >= 0; i--) {
        const v = this.vars[i];
        if (v && v.name === name) {
          v.value = value;
          return;
        }
      }
    }
    this.assignVar(name, value);
  }

  private assignVar(name: string, value: GoValue): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      const v = this.vars[i];
      if (v && v.name === name) {
        v.value = value;
        return;
      }
    }
    this.fail(`undefined variable: ${name}`);
  }

  private varValue(name: string): GoValue {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      const v = this.vars[i];
      if (v && v.name === name) return v.value;
    }
    return this.fail(`undefined variable: ${name}`);
  }

  evalPipeline(dot: GoValue, pipe: Pipe): GoValue {
    let value: Final = NO_FINAL;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value);
    const result = value === NO_FINAL ? undefined : value;
    for (const name of pipe.decl) {
      if (pipe.isAssign) this.assignVar(name, result);
      else this.vars.push({ name, value: result });
    }
    return result;
  }

  private evalCommand(dot: GoValue, cmd: Cmd, final: Final): GoValue {
    const [first, ...rest] = cmd.args;
    if (!first) return this.fail('empty command', cmd.line);
    this.line = first.line;
    switch (first.t) {
      case 'field':
        return this.evalFieldChain(dot, first, first.idents, rest, final);
      case 'chain':
        return this.evalFieldChain(this.evalArg(dot, first.node), first, first.idents, rest, final);
      case 'var': {
        const value = this.varValue(first.name);
        if (first.idents.length === 0) {
          this.notAFunction(first, rest, final);
          return value;
        }
        return this.evalFieldChain(value, first, first.idents, rest, final);
      }
      case 'ident':
        return this.evalFunction(dot, first, rest, final);
      case 'pipe':
        this.notAFunction(first, rest, final);
        return this.evalPipeline(dot, first.pipe);
      case 'nil':
        return this.fail('nil is not a command');
      case 'dot':
        this.notAFunction(first, rest, final);
        return dot;
      case 'literal':
        this.notAFunction(first, rest, final);
        return first.value;
    }
  }

  private notAFunction(node: Arg, args: Arg[], final: Final): void {
    if (args.length > 0 || final !== NO_FINAL)
      this.fail(`can't give argument to non-function ${argText(node)}`);
  }

  /** Evaluates one argument of a function call or a chain head. */
  evalArg(dot: GoValue, arg: Arg): GoValue {
    this.line = arg.line;
    switch (arg.t) {
      case 'dot':
        return dot;
      case 'nil':
        return null;
      case 'field':
        return this.evalFieldChain(dot, arg, arg.idents, [], NO_FINAL);
      case 'var': {
        const value = this.varValue(arg.name);
        return arg.idents.length === 0 ? value : this.evalFieldChain(value, arg, arg.idents, [], NO_FINAL);
      }
      case 'chain':
        return this.evalFieldChain(this.evalArg(dot, arg.node), arg, arg.idents, [], NO_FINAL);
      case 'pipe':
        return this.evalPipeline(dot, arg.pipe);
      case 'ident':
        return this.evalFunction(dot, arg, [], NO_FINAL);
      case 'literal':
        return arg.value;
    }
  }

  private evalFieldChain(receiver: GoValue, node: Arg, idents: string[], args: Arg[], final: Final): GoValue {
    let value = receiver;
    idents.forEach((name, i) => {
      const last = i === idents.length - 1;
      value = this.evalField(value, name, node, last && (args.length > 0 || final !== NO_FINAL));
    });
    return value;
  }

  private evalField(receiver: GoValue, name: string, node: Arg, hasArgs: boolean): GoValue {
    const at = ` (at <${argText(node)}>)`;
    if (receiver === undefined) return undefined;
    if (receiver === null) this.fail(`nil pointer evaluating interface {}.${name}${at}`);
    if (receiver instanceof GoStruct) {
      if (!Object.hasOwn(receiver.fields, name)) {
        this.fail(`can't evaluate field "${name}" in type ${receiver.typeName}${at}`);
      }
      if (hasArgs) this.fail(`${name} has arguments but cannot be invoked as function${at}`);
      return receiver.fields[name];
    }
    if (receiver instanceof GoNilPointer)
      this.fail(`nil pointer evaluating ${receiver.typeName}.${name}${at}`);
    if (isGoMap(receiver)) {
      if (hasArgs) this.fail(`${name} is not a method but has arguments${at}`);
      return Object.hasOwn(receiver, name) ? receiver[name] : undefined;
    }
    return this.fail(`can't evaluate field "${name}" in type ${goTypeName(receiver)}${at}`);
  }

  private evalFunction(
    dot: GoValue,
    ident: Extract<Arg, { t: 'ident' }>,
    args: Arg[],
    final: Final,
  ): GoValue {
    const line = ident.line;
    const builtin = BUILTINS[ident.name];
    try {
      if (builtin) return builtin(this, line, args, dot, final);
      const fn = this.funcs[ident.name];
      if (!fn) return this.fail(`"${ident.name}" is not a defined function`, line);
      const values = args.map((a) => this.evalArg(dot, a));
      if (final !== NO_FINAL) values.push(final);
      if (values.length !== fn.length) {
        this.fail(`wrong number of args for ${ident.name}: want ${fn.length} got ${values.length}`, line);
      }
      // Arguments of interface type: Go turns an invalid value into a nil interface.
      return fn(...values.map((v) => (v === undefined ? null : v)));
    } catch (err) {
      if (err instanceof CallError) this.fail(`error calling ${ident.name}: ${err.message}`, line);
      throw err;
    }
  }

  /** Evaluated arguments plus the pipeline's final value, checked against an arity. */
  values(
    dot: GoValue,
    line: number,
    name: string,
    args: Arg[],
    final: Final,
    min: number,
    max = min,
  ): GoValue[] {
    const count = args.length + (final === NO_FINAL ? 0 : 1);
    if (count < min || count > max) {
      const want = max === Number.POSITIVE_INFINITY ? `at least ${min}` : `${min}`;
      this.fail(`wrong number of args for ${name}: want ${want} got ${count}`, line);
    }
    const values = args.map((a) => this.evalArg(dot, a));
    if (final !== NO_FINAL) values.push(final);
    return values;
  }

  /** `and` / `or`: short-circuit, returning the deciding argument (Go ≥ 1.18). */
  shortCircuit(dot: GoValue, line: number, name: 'and' | 'or', args: Arg[], final: Final): GoValue {
    if (args.length + (final === NO_FINAL ? 0 : 1) < 1)
      this.fail(`wrong number of args for ${name}: want at least 1 got 0`, line);
    let value: GoValue;
    for (const arg of args) {
      value = this.evalArg(dot, arg);
      if (goTruth(value) === (name === 'or')) return value;
    }
    if (final !== NO_FINAL) value = final;
    return value;
  }
}

/** An error returned by a function: reported as `error calling <name>: <message>`. */
class CallError extends Error {}

const ANY = Number.POSITIVE_INFINITY;

/** Go's predefined functions (text/template/funcs.go). */
const BUILTINS: Readonly<Record<string, Builtin>> = {
  and: (s, line, args, dot, final) => s.shortCircuit(dot, line, 'and', args, final),
  or: (s, line, args, dot, final) => s.shortCircuit(dot, line, 'or', args, final),
  not: (s, line, args, dot, final) => !goTruth(s.values(dot, line, 'not', args, final, 1)[0]),
  len: (s, line, args, dot, final) => goLen(s.values(dot, line, 'len', args, final, 1)[0]),
  index: (s, line, args, dot, final) => {
    const [item, ...keys] = s.values(dot, line, 'index', args, final, 1, ANY);
    return goIndex(item, keys);
  },
  print: (s, line, args, dot, final) => goSprint(s.values(dot, line, 'print', args, final, 0, ANY)),
  println: (s, line, args, dot, final) =>
    `${s
      .values(dot, line, 'println', args, final, 0, ANY)
      .map((v) => goFormat(v === undefined ? null : v))
      .join(' ')}\n`,
  printf: (s, line, args, dot, final) => {
    const [format, ...rest] = s.values(dot, line, 'printf', args, final, 1, ANY);
    if (typeof format !== 'string') {
      return s.fail(`wrong type for value; expected string; got ${goTypeName(format)}`, line);
    }
    return goSprintf(format, rest);
  },
  eq: (s, line, args, dot, final) => {
    const [first, ...others] = s.values(dot, line, 'eq', args, final, 1, ANY);
    if (others.length === 0) throw new CallError('missing argument for comparison');
    return others.some((other) => goEqual(first, other));
  },
  ne: (s, line, args, dot, final) => {
    const [a, b] = s.values(dot, line, 'ne', args, final, 2);
    return !goEqual(a, b);
  },
  lt: (s, line, args, dot, final) => goLess(...pair(s.values(dot, line, 'lt', args, final, 2))),
  le: (s, line, args, dot, final) => {
    const [a, b] = pair(s.values(dot, line, 'le', args, final, 2));
    return goLess(a, b) || goEqual(a, b);
  },
  gt: (s, line, args, dot, final) => {
    const [a, b] = pair(s.values(dot, line, 'gt', args, final, 2));
    return !goLess(a, b) && !goEqual(a, b);
  },
  ge: (s, line, args, dot, final) => !goLess(...pair(s.values(dot, line, 'ge', args, final, 2))),
  js: (s, line, args, dot, final) => jsEscape(escaperArg(s.values(dot, line, 'js', args, final, 0, ANY))),
  html: (s, line, args, dot, final) =>
    htmlEscape(escaperArg(s.values(dot, line, 'html', args, final, 0, ANY))),
  urlquery: (s, line, args, dot, final) =>
    encodeURIComponent(escaperArg(s.values(dot, line, 'urlquery', args, final, 0, ANY)))
      .replace(/%20/g, '+')
      .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
};

function pair(values: GoValue[]): [GoValue, GoValue] {
  return [values[0], values[1]];
}

type BasicKind = 'bool' | 'int' | 'float' | 'string' | 'invalid' | 'other';

function basicKind(v: GoValue): BasicKind {
  if (v === undefined) return 'invalid';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number' || v instanceof GoEnum) return 'int';
  if (v instanceof GoFloat) return 'float';
  if (typeof v === 'string') return 'string';
  return 'other';
}

function numeric(v: GoValue): number {
  if (typeof v === 'number') return v;
  if (v instanceof GoEnum) return v.value;
  if (v instanceof GoFloat) return v.value;
  return Number.NaN;
}

/** Go's `eq` for two arguments (Go ≥ 1.18: comparisons with a missing value are false, not errors). */
function goEqual(a: GoValue, b: GoValue): boolean {
  const ka = basicKind(a);
  const kb = basicKind(b);
  if (ka !== kb) {
    if (ka === 'invalid' || kb === 'invalid') return false;
    throw new CallError('incompatible types for comparison');
  }
  switch (ka) {
    case 'bool':
    case 'string':
      return a === b;
    case 'int':
    case 'float':
      return numeric(a) === numeric(b);
    case 'invalid':
      return false;
    default:
      if (Array.isArray(a) || isGoMap(a))
        throw new CallError(`non-comparable type ${goFormat(a)}: invalid type for comparison`);
      if ((a === null || a instanceof GoNilPointer) && (b === null || b instanceof GoNilPointer)) return true;
      return a === b;
  }
}

function goLess(a: GoValue, b: GoValue): boolean {
  const ka = basicKind(a);
  const kb = basicKind(b);
  if (ka === 'bool' || ka === 'other' || ka === 'invalid') throw new CallError('invalid type for comparison');
  if (ka !== kb) throw new CallError('incompatible types for comparison');
  if (ka === 'string') return compareGoStrings(a as string, b as string) < 0;
  return numeric(a) < numeric(b);
}

function goLen(v: GoValue): number {
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
  if (Array.isArray(v)) return v.length;
  if (isGoMap(v)) return Object.values(v).filter((x) => x !== undefined).length;
  if (v === undefined || v === null) throw new CallError('len of nil pointer');
  throw new CallError(`len of type ${goTypeName(v)}`);
}

function goIndex(item: GoValue, keys: GoValue[]): GoValue {
  let value = item;
  for (const key of keys) {
    if (value === undefined || value === null) throw new CallError('index of untyped nil');
    if (Array.isArray(value)) {
      if (typeof key !== 'number')
        throw new CallError(`cannot index slice/array with type ${goTypeName(key)}`);
      if (key < 0 || key >= value.length) throw new CallError(`index out of range: ${key}`);
      value = value[key];
    } else if (typeof value === 'string') {
      if (typeof key !== 'number')
        throw new CallError(`cannot index slice/array with type ${goTypeName(key)}`);
      const bytes = Buffer.from(value, 'utf8');
      if (key < 0 || key >= bytes.length) throw new CallError(`index out of range: ${key}`);
      value = bytes[key] ?? 0;
    } else if (isGoMap(value)) {
      if (typeof key !== 'string') throw new CallError(`value has type ${goTypeName(key)}; should be string`);
      // A missing key yields the element type's zero value: nil for map[string]interface{}.
      value = Object.hasOwn(value, key) && value[key] !== undefined ? value[key] : null;
    } else {
      throw new CallError(`can't index item of type ${goTypeName(value)}`);
    }
  }
  return value;
}

/** `fmt.Sprint`: operands separated by a space when neither side is a string. */
function goSprint(values: GoValue[]): string {
  let out = '';
  values.forEach((v, i) => {
    const prev = values[i - 1];
    if (i > 0 && typeof v !== 'string' && typeof prev !== 'string') out += ' ';
    out += goFormat(v === undefined ? null : v);
  });
  return out;
}

/** The argument text the escaper functions see (`evalArgs`: a lone string as is, else Sprint). */
function escaperArg(values: GoValue[]): string {
  if (values.length === 1 && typeof values[0] === 'string') return values[0];
  return goSprint(values);
}

/** `fmt.Sprintf` for the verbs templates use: %v %s %d %q %t %x %X %f %e %g %%, width and '-'. */
function goSprintf(format: string, args: GoValue[]): string {
  let argIndex = 0;
  return (
    format.replace(
      /%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])/g,
      (_m, flags: string, width?: string, prec?: string, verb?: string) => {
        if (verb === '%') return '%';
        if (argIndex >= args.length) return `%!${verb}(MISSING)`;
        const raw = args[argIndex++];
        const v = raw === undefined ? null : raw;
        const bad = (): string =>
          v === null ? `%!${verb}(<nil>)` : `%!${verb}(${goTypeName(v)}=${goFormat(v)})`;
        let text: string;
        switch (verb) {
          case 'v':
            text = goFormat(v);
            break;
          case 's':
            text =
              typeof v === 'string' || v instanceof GoStringer || v instanceof GoEnum || Array.isArray(v)
                ? goFormat(v)
                : bad();
            break;
          case 'd':
            text = typeof v === 'number' || v instanceof GoEnum ? String(numeric(v)) : bad();
            break;
          case 'q':
            text = typeof v === 'string' ? JSON.stringify(v) : bad();
            break;
          case 't':
            text = typeof v === 'boolean' ? String(v) : bad();
            break;
          case 'x':
          case 'X': {
            const t =
              typeof v === 'number'
                ? v.toString(16)
                : typeof v === 'string'
                  ? Buffer.from(v).toString('hex')
                  : bad();
            text = verb === 'X' ? t.toUpperCase() : t;
            break;
          }
          case 'f':
          case 'e':
          case 'g': {
            const n = numeric(v);
            if (Number.isNaN(n)) {
              text = bad();
            } else if (verb === 'f') {
              text = n.toFixed(prec === undefined ? 6 : Number(prec));
            } else if (verb === 'e') {
              text = n.toExponential(prec === undefined ? 6 : Number(prec)).replace(/e([+-])(\d)$/, 'e$10$2');
            } else {
              text = goFormat(new GoFloat(n));
            }
            break;
          }
          default:
            text = bad();
        }
        const w = width === undefined ? 0 : Number(width);
        if (text.length < w) {
          const pad = (flags.includes('0') && !flags.includes('-') ? '0' : ' ').repeat(w - text.length);
          text = flags.includes('-') ? text + pad : pad + text;
        }
        return text;
      },
    ) +
    (argIndex < args.length
      ? `%!(EXTRA ${args
          .slice(argIndex)
          .map((a) => `${goTypeName(a ?? null)}=${goFormat(a ?? null)}`)
          .join(', ')})`
      : '')
  );
}

/** Go's `template.JSEscapeString` (uppercase hex, `\'` for the apostrophe, as Go writes them). */
export function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    switch (ch) {
      case '\\':
        out += '\\\\';
        continue;
      case "'":
        out += "\\'";
        continue;
      case '"':
        out += '\\"';
        continue;
      case '<':
        out += '\\u003C';
        continue;
      case '>':
        out += '\\u003E';
        continue;
      case '&':
        out += '\\u0026';
        continue;
      case '=':
        out += '\\u003D';
        continue;
    }
    if (c < 0x20) {
      out += `\\u00${c.toString(16).toUpperCase().padStart(2, '0')}`;
    } else if (c >= 0x80 && !/^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch)) {
      // unicode.IsPrint: letters, marks, numbers, punctuation, symbols (and only the ASCII space).
      out += `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`;
    } else {
      out += ch;
    }
  }
  return out;
}

/** Go's `template.HTMLEscapeString`. */
function htmlEscape(s: string): string {
  return s.replace(/[\0"'&<>]/g, (c) =>
    c === '\0'
      ? '\uFFFD'
      : c === '"'
        ? '&#34;'
        : c === "'"
          ? '&#39;'
          : c === '&'
            ? '&amp;'
            : c === '<'
              ? '&lt;'
              : '&gt;',
  );
}

// ---------------------------------------------------------------------------------------------
// API

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
