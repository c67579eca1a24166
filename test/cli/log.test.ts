import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, defaultScopeLevel, scrubPem, terminalLine } from '../../src/log.js';

function sink(columns?: number) {
  let text = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  if (columns !== undefined) Object.assign(destination, { columns });
  return { destination, text: () => text, lines: () => text.split('\n').filter(Boolean) };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal's colour codes
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

const PEM = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----';

describe('logger', () => {
  it('writes JSON lines with the level name when not on a terminal', () => {
    const out = sink();
    const log = createLogger({ destination: out.destination, isTTY: false });
    log.info({ epoch: 0 }, 'Epoch 0 starting');
    const [line] = out.lines();
    expect(JSON.parse(line ?? '')).toMatchObject({ level: 'info', msg: 'Epoch 0 starting', epoch: 0 });
    expect(JSON.parse(line ?? '').time).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('writes readable lines on a terminal unless JSON is forced', () => {
    const pretty = sink();
    createLogger({ destination: pretty.destination, isTTY: true }).info('hello');
    expect(pretty.text()).toContain('hello');
    expect(() => JSON.parse(pretty.lines()[0] ?? '')).toThrow();
    const forced = sink();
    createLogger({ destination: forced.destination, isTTY: true, json: true }).info('hello');
    expect(JSON.parse(forced.lines()[0] ?? '')).toMatchObject({ msg: 'hello' });
  });

  it('censors key material fields and PEM blocks, in objects and messages', () => {
    const out = sink();
    const log = createLogger({ destination: out.destination, isTTY: false });
    log.info({ privateKey: 'k1', tls: { key: 'k2', token: 't1' }, a: { b: { accessToken: 't2' } } }, 'creds');
    log.warn({ file: { contents: PEM } }, `bad cert ${PEM}`);
    log.error('%s', PEM);
    const text = out.text();
    for (const secret of ['k1', 'k2', 't1', 't2', 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC'])
      expect(text).not.toContain(secret);
    const [first, second, third] = out.lines().map((l) => JSON.parse(l));
    expect(first.privateKey).toBe('[REDACTED]');
    expect(first.tls).toEqual({ key: '[REDACTED]', token: '[REDACTED]' });
    expect(second.msg).toBe('bad cert [REDACTED PEM]');
    expect(second.file.contents).toBe('[REDACTED PEM]');
    expect(third.msg).toBe('[REDACTED PEM]');
  });

  it('scrubs cut-off PEM blocks too', () => {
    expect(scrubPem('x -----BEGIN CERTIFICATE-----\nMIIB')).toBe('x [REDACTED PEM]');
  });

  it('maps Istio levels; none is silent', () => {
    const out = sink();
    const log = createLogger({ destination: out.destination, isTTY: false, level: 'warn' });
    log.info('hidden');
    log.warn('shown');
    expect(out.lines()).toHaveLength(1);
    const silent = sink();
    createLogger({ destination: silent.destination, isTTY: false, level: 'none' }).fatal('nothing');
    expect(silent.text()).toBe('');
  });

  it('reads the default scope level from --log_output_level', () => {
    expect(defaultScopeLevel('default:info')).toBe('info');
    expect(defaultScopeLevel('debug')).toBe('debug');
    expect(defaultScopeLevel('ads:debug,default:warn')).toBe('warn');
    expect(defaultScopeLevel('default:warn,error')).toBe('error');
    expect(defaultScopeLevel('ads:debug')).toBe('info');
    expect(defaultScopeLevel('default:verbose')).toEqual({ error: "invalid output level 'default:verbose'" });
    expect(defaultScopeLevel('a:b:c')).toEqual({ error: "invalid output level format 'a:b:c'" });
  });

  it('keeps the JSON lines as they are: level name, ISO time, fields in order, then msg', () => {
    const out = sink();
    createLogger({ destination: out.destination, isTTY: false }).info(
      { epoch: 0, pid: 7 },
      'Epoch 0 starting',
    );
    expect(out.text().replace(/"time":"[^"]+"/, '"time":"T"')).toBe(
      '{"level":"info","time":"T","epoch":0,"pid":7,"msg":"Epoch 0 starting"}\n',
    );
  });

  it('writes one line per event on a terminal: time, level, message and the fields that fit', () => {
    const out = sink(120);
    const log = createLogger({ destination: out.destination, isTTY: true });
    log.info(
      {
        from: 'starting.initializing',
        to: 'ready',
        event: 'ADMIN.STATUS',
        epoch: 0,
        pid: 4242,
        signal: null,
        reason: 'a long explanation that does not fit on the line any more',
        restarts: 0,
      },
      'envoy lifecycle: starting.initializing -> ready',
    );
    log.warn({ problems: ['a: missing', 'b: expired'] }, 'certificate rotation incomplete');
    const lines = out.lines().map(plain);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}envoy lifecycle: starting\.initializing -> ready event=ADMIN\.STATUS epoch=0 pid=4242 restarts=0 \u2026$/,
    );
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(120);
    expect(lines[1]).toMatch(
      / WARN {2}certificate rotation incomplete problems="a: missing","b: expired"$|problems=/,
    );
    expect(out.text()).toContain('\x1b['); // coloured on a terminal
  });

  it('words every field type on a terminal line without colour when asked to', () => {
    const line = terminalLine(
      {
        level: 'error',
        time: '2026-01-02T03:04:05.006Z',
        msg: 'bad\nthing',
        err: { type: 'Error', message: 'boom' },
        list: [1, 'x'],
        empty: [],
        obj: { a: 1 },
        text: 'two words',
      },
      { color: false, width: 200 },
    );
    expect(line.slice(12)).toBe(' ERROR bad thing err="boom" list=1,x obj={"a":1} text="two words"');
  });
});
