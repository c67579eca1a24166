/**
 * The Go text/template subset: the constructs Istio's bootstrap templates use, Go's missing-key
 * semantics, and errors that name file, line and key. Expected outputs are what Go's text/template
 * (Go ≥ 1.22) prints for the same template and data.
 */

import { describe, expect, it } from 'vitest';
import { AgentError } from '../../src/errors.js';
import { jsEscape } from '../../src/go/template/funcs.js';
import { GoTemplate, renderGoTemplate } from '../../src/go/template/template.js';
import { GoEnum, GoNilPointer, GoStringer, GoStruct, type GoValue } from '../../src/go/value.js';

const FILE = '/etc/istio/custom/bootstrap.tmpl';

function render(source: string, data: GoValue = {}): string {
  return renderGoTemplate(source, data, FILE);
}

function failure(source: string, data: GoValue = {}): AgentError {
  try {
    render(source, data);
  } catch (err) {
    expect(err).toBeInstanceOf(AgentError);
    const e = err as AgentError;
    expect(e.kind).toBe('bootstrap');
    expect(e.exitCode).toBe(1);
    expect(e.message).not.toContain('\n');
    return e;
  }
  throw new Error('expected the template to fail');
}

const proxyConfig = new GoStruct('*v1alpha1.ProxyConfig', {
  ProxyAdminPort: 15000,
  ControlPlaneAuthPolicy: new GoEnum('v1alpha1.AuthenticationPolicy', 'MUTUAL_TLS', 1),
  DrainDuration: new GoStringer('*types.Duration', '45s', { seconds: 45 }),
  Tracing: new GoNilPointer('*v1alpha1.Tracing'),
});

describe('fields and missing keys (missingkey=default)', () => {
  it('prints map keys and struct fields', () => {
    expect(render('{{ .nodeID }}:{{ .config.ProxyAdminPort }}', { nodeID: 'n', config: proxyConfig })).toBe(
      'n:15000',
    );
  });

  it('prints <no value> for a missing map key, also through a chain', () => {
    expect(render('[{{ .nope }}][{{ .nope.deeper }}]', { a: 1 })).toBe('[<no value>][<no value>]');
  });

  it('treats a missing key as false in if and as empty in range', () => {
    expect(render('{{ if .nope }}yes{{ else }}no{{ end }}|{{ range .nope }}x{{ else }}empty{{ end }}')).toBe(
      'no|empty',
    );
  });

  it('prints <nil> for a present nil value', () => {
    expect(render('{{ .x }}', { x: null })).toBe('<nil>');
  });

  it('prints an enum by name and compares it as an integer (Istio: eq .config.ControlPlaneAuthPolicy 1)', () => {
    expect(
      render(
        '{{ .config.ControlPlaneAuthPolicy }} {{ if eq .config.ControlPlaneAuthPolicy 1 }}mtls{{ end }}',
        {
          config: proxyConfig,
        },
      ),
    ).toBe('MUTUAL_TLS mtls');
  });

  it('prints a Stringer through String()', () => {
    expect(render('{{ .config.DrainDuration }}', { config: proxyConfig })).toBe('45s');
  });

  it('prints slices and maps as fmt does', () => {
    expect(render('{{ .l }} {{ .m }}', { l: ['a', 'b'], m: { b: 2, a: 1 } })).toBe('[a b] map[a:1 b:2]');
  });

  it('prints float literals as Go %v does', () => {
    expect(render("{{ 1.5 }} {{ 1e6 }} {{ 0x1F }} {{ 017 }} {{ 'a' }}")).toBe('1.5 1e+06 31 15 97');
  });
});

describe('control structures', () => {
  it('handles if / else if / else chains sharing one end', () => {
    const t = GoTemplate.parse(
      '{{ if eq .p "kubernetes" }}k8s{{ else if eq .p "istiod" }}istiod{{ else }}other{{ end }}',
      FILE,
    );
    expect(['kubernetes', 'istiod', 'citadel'].map((p) => t.execute({ p }))).toEqual([
      'k8s',
      'istiod',
      'other',
    ]);
  });

  it('ranges with $index, $value as Istio templates do, and with the element as dot', () => {
    const data = { prefixes: ['cluster_manager', 'server'] };
    expect(render('{{- range $a, $s := .prefixes }}[{{ $a }}={{ $s }}]{{- end }}', data)).toBe(
      '[0=cluster_manager][1=server]',
    );
    expect(render('{{ range .prefixes }}<{{ . }}>{{ end }}', data)).toBe('<cluster_manager><server>');
    expect(render('{{ range $i, $s := .prefixes }}{{ if $i }},{{ end }}{{ $s }}{{ end }}', data)).toBe(
      'cluster_manager,server',
    );
  });

  it('ranges over a map in sorted key order and over an int', () => {
    expect(render('{{ range $k, $v := .m }}{{ $k }}={{ $v }};{{ end }}', { m: { z: 1, a: 2, M: 3 } })).toBe(
      'M=3;a=2;z=1;',
    );
    expect(render('{{ range 3 }}{{ . }}{{ end }}')).toBe('012');
  });

  it('supports break and continue', () => {
    expect(
      render(
        '{{ range .l }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ if eq . 4 }}{{ break }}{{ end }}{{ . }}{{ end }}',
        { l: [1, 2, 3, 4, 5] },
      ),
    ).toBe('13');
  });

  it('sets dot in with, and runs else when the value is empty', () => {
    expect(render('{{ with .zipkin }}{{ . }}{{ else }}none{{ end }}', { zipkin: 'z:9411' })).toBe('z:9411');
    expect(
      render('{{ with .zipkin }}{{ . }}{{ else with .datadog }}dd {{ . }}{{ else }}none{{ end }}', {
        datadog: 'd',
      }),
    ).toBe('dd d');
    expect(render('{{ with .zipkin }}{{ . }}{{ else }}none{{ end }}', { zipkin: '' })).toBe('none');
  });

  it('scopes variables to their block and allows assignment', () => {
    expect(render('{{ $x := "a" }}{{ if true }}{{ $x = "b" }}{{ $y := 1 }}{{ $y }}{{ end }}{{ $x }}')).toBe(
      '1b',
    );
    expect(render('{{ range $i, $v := .l }}{{ $.r }}{{ end }}{{ $.r }}', { l: [1], r: 'root' })).toBe(
      'rootroot',
    );
  });
});

describe('whitespace and comments', () => {
  it('trims with {{- and -}} as Go does', () => {
    expect(render('a  \n\t {{- "b" -}} \n  c')).toBe('abc');
    expect(render('a {{- 3 }}')).toBe('a3');
    // "{{-3}}" is the number -3, not a trim marker.
    expect(render('a {{-3}}')).toBe('a -3');
  });

  it('drops comments, including trimmed multi-line ones', () => {
    expect(render('x {{- /* a\ncomment */ -}} y{{/* another */}}')).toBe('xy');
  });

  it('lexes "}}" inside a string literal', () => {
    expect(render('{{ "}}" }}{{ `{{` }}')).toBe('}}{{');
  });
});

describe('functions', () => {
  it('toJSON marshals as Go encoding/json (sorted keys, HTML-safe), nil and missing as {}', () => {
    expect(
      render('{{ toJSON .san }} {{ toJSON .m }} {{ toJSON .nope }} {{ toJSON .nil }}', {
        san: ['spiffe://cluster.local/ns/istio-system/sa/istio-pilot-service-account'],
        m: { b: '<&>', a: 1 },
        nil: null,
      }),
    ).toBe(
      '["spiffe://cluster.local/ns/istio-system/sa/istio-pilot-service-account"] {"a":1,"b":"\\u003c\\u0026\\u003e"} {} {}',
    );
  });

  it('toJSON of a pipeline value', () => {
    expect(render('{{ .san | toJSON }}', { san: ['a'] })).toBe('["a"]');
  });

  it('js escapes as template.JSEscapeString (Istio 1.5 escapes stats regexps with it)', () => {
    expect(render('{{ js .r }}', { r: `a=b<c>'"\\&\n` })).toBe(
      'a\\u003Db\\u003Cc\\u003E\\\'\\"\\\\\\u0026\\u000A',
    );
    expect(jsEscape('http\\.[0-9]*_8080')).toBe('http\\\\.[0-9]*_8080');
  });

  it('printf, print, len, index', () => {
    expect(render('{{ printf "%s%s" .a "/root-cert.pem" }}', { a: '/etc/certs' })).toBe(
      '/etc/certs/root-cert.pem',
    );
    expect(render('{{ printf "%d-%v-%q-%5s|%-3d|" 7 true "x" "ab" 4 }}')).toBe('7-true-"x"-   ab|4  |');
    expect(render('{{ print 1 2 "a" "b" 3 }}')).toBe('1 2ab3');
    expect(render('{{ len .l }} {{ len .s }} {{ len .m }}', { l: [1, 2], s: 'héllo', m: { a: 1 } })).toBe(
      '2 6 1',
    );
    expect(
      render('{{ index .l 1 }} {{ index .m "k" }} {{ index .m "missing" }}', {
        l: ['a', 'b'],
        m: { k: 'v' },
      }),
    ).toBe('b v <nil>');
  });

  it('slice, as Go 1.13 added it: strings by bytes, lists by elements', () => {
    expect(render('{{ slice .p 5 }}|{{ slice .p 0 4 }}|{{ slice .p }}', { p: 'unix:/etc/SDS' })).toBe(
      '/etc/SDS|unix|unix:/etc/SDS',
    );
    expect(render('{{ range slice .l 1 3 }}{{ . }}{{ end }}', { l: ['a', 'b', 'c', 'd'] })).toBe('bc');
    expect(failure('{{ slice .p 3 2 }}', { p: 'abcd' }).message).toBe(
      `${FILE}:1: error calling slice: invalid slice index: 3 > 2`,
    );
    expect(failure('{{ slice .p 9 }}', { p: 'abcd' }).message).toBe(
      `${FILE}:1: error calling slice: index out of range: 9`,
    );
    expect(failure('{{ slice .p 0 1 2 }}', { p: 'abcd' }).message).toBe(
      `${FILE}:1: error calling slice: cannot 3-index slice a string`,
    );
  });

  it('and / or short-circuit and return the deciding value', () => {
    expect(
      render('{{ or .nope "fallback" }}|{{ and .a .b }}|{{ and .a .nope .boom }}', { a: 'x', b: 'y' }),
    ).toBe('fallback|y|<no value>');
    expect(render('{{ not .a }} {{ not .nope }}', { a: 1 })).toBe('false true');
  });

  it('compares with eq/ne/lt/le/gt/ge; a missing value is never equal', () => {
    expect(
      render('{{ eq .a "x" "y" }} {{ ne 1 2 }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt "b" "a" }} {{ ge 1 2 }}', {
        a: 'y',
      }),
    ).toBe('true true true true true false');
    expect(render('{{ eq .nope "x" }}')).toBe('false');
  });
});

describe('errors name the file, the line and the key', () => {
  it('rejects an unknown function at parse time, with its line', () => {
    expect(failure('{\n  "a": {{ toJson .x }}\n}').message).toBe(`${FILE}:2: function "toJson" not defined`);
  });

  it("rejects a field a struct does not have (Go: can't evaluate field)", () => {
    const message = failure('\n\n"{{ .config.StatusPort }}"', { config: proxyConfig }).message;
    expect(message).toBe(
      `${FILE}:3: can't evaluate field "StatusPort" in type *v1alpha1.ProxyConfig (at <.config.StatusPort>)`,
    );
  });

  it('rejects a field of a string and of a nil pointer', () => {
    expect(failure('{{ .nodeID.foo }}', { nodeID: 'x' }).message).toBe(
      `${FILE}:1: can't evaluate field "foo" in type string (at <.nodeID.foo>)`,
    );
    expect(failure('{{ .config.Tracing.Zipkin }}', { config: proxyConfig }).message).toBe(
      `${FILE}:1: nil pointer evaluating *v1alpha1.Tracing.Zipkin (at <.config.Tracing.Zipkin>)`,
    );
  });

  it('reports function errors as Go does', () => {
    expect(failure('\n{{ eq .a 1 }}', { a: 'x' }).message).toBe(
      `${FILE}:2: error calling eq: incompatible types for comparison`,
    );
    expect(failure('{{ index .l 5 }}', { l: [] }).message).toBe(
      `${FILE}:1: error calling index: index out of range: 5`,
    );
    expect(failure('{{ len 3 }}').message).toBe(`${FILE}:1: error calling len: len of type int`);
    expect(failure('{{ range .s }}{{ end }}', { s: 'abc' }).message).toBe(
      `${FILE}:1: range can't iterate over abc`,
    );
  });

  it('reports syntax errors with the line they are on', () => {
    expect(failure('a\n{{ if .x }}\nb\n').message).toBe(
      `${FILE}:2: unexpected EOF: "if" has no matching {{end}}`,
    );
    expect(failure('{{ end }}').message).toBe(`${FILE}:1: unexpected {{end}}`);
    expect(failure('x\n\n{{ .a ').message).toBe(`${FILE}:3: unclosed action`);
    expect(failure('{{ $x }}').message).toBe(`${FILE}:1: undefined variable "$x"`);
    expect(failure('{{ }}').message).toBe(`${FILE}:1: missing value for command`);
    expect(failure('{{ break }}').message).toBe(`${FILE}:1: {{break}} outside {{range}}`);
    expect(failure('{{ define "x" }}{{ end }}').message).toBe(`${FILE}:1: unsupported action "define"`);
    expect(failure('{{ "abc }}').message).toBe(`${FILE}:1: unterminated quoted string`);
    expect(failure('{{/* never closed }}').message).toBe(`${FILE}:1: unclosed comment`);
  });

  it('counts lines across trimmed text and comments', () => {
    expect(failure('{{- /* one\ntwo\nthree */ -}}\n\n  {{ .a.b }}', { a: 'x' }).message).toMatch(
      `${FILE}:5:`,
    );
  });

  it('is reusable: a parsed template executes many times', () => {
    const t = GoTemplate.parse('{{ .n }}', FILE);
    expect([t.execute({ n: 1 }), t.execute({ n: 2 })]).toEqual(['1', '2']);
  });
});
