import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, defaultScopeLevel, scrubPem } from '../../src/log.js';

function sink() {
  let text = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return { destination, text: () => text, lines: () => text.split('\n').filter(Boolean) };
}

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
});
