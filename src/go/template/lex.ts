/**
 * The lexer of Go's `text/template/parse` (`lex.go`): template text into tokens — text, action
 * delimiters with their trim markers, and the items inside an action. Comments and trimmed space
 * are dropped here, as Go's lexer does.
 */

export type TokKind =
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

export interface Token {
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

export class TemplateSyntaxError extends Error {
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

export function lex(src: string): Token[] {
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
export function unquoteGo(lit: string, line: number): string {
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
