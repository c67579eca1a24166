/**
 * Execution of a parsed template, as Go's `text/template` (`exec.go`): walks the tree with `.` and
 * the variables in scope, evaluates pipelines, fields and function calls, and writes the output.
 */

import {
  GoNilPointer,
  GoStruct,
  type GoValue,
  goFormat,
  goTruth,
  goTypeName,
  isGoMap,
  sortedKeys,
} from '../value.js';
import { BUILTINS, CallError, type CallState, type Final, type GoFunc, NO_FINAL } from './funcs.js';
import { type Arg, argText, type Cmd, type ControlNode, type Node, type Pipe } from './parse.js';

export class ExecError extends Error {
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

export class Exec implements CallState {
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
