import { describe, expect, it } from 'vitest';
import { checkVariables, placeholders, type PromptVariable, render } from '../../src/prompts/template.js';

describe('prompt templates', () => {
  const vars: PromptVariable[] = [
    { name: 'who', type: 'string', required: true },
    { name: 'n', type: 'number', required: false, default: 3 },
    { name: 'opts', type: 'object', required: false },
  ];

  it('lists placeholders once, with or without inner spaces', () => {
    expect(placeholders({ system: 'Hi {{ who }} {{n}}', user: '{{who}} {{opts}} {{ 1bad }} {single}' })).toEqual(['who', 'n', 'opts']);
  });

  it('renders in one pass: values are text, never template', () => {
    const values = checkVariables(vars, { who: '{{n}} and {{who}}', opts: { a: [1, true] } }, 'p');
    expect(values).toEqual({ who: '{{n}} and {{who}}', n: 3, opts: { a: [1, true] } });
    expect(render({ system: null, user: '{{ who }}|{{n}}|{{opts}}' }, values)).toEqual({ system: null, user: '{{n}} and {{who}}|3|{"a":[1,true]}' });
    expect(render({ system: '{{opts}}.', user: 'x' }, {})).toEqual({ system: '.', user: 'x' });
    const odd: PromptVariable[] = [
      { name: 'constructor', type: 'string', required: false },
      { name: '__proto__', type: 'object', required: true },
    ];
    const given = JSON.parse('{"__proto__": {"polluted": true}}');
    expect(render({ system: null, user: '[{{constructor}}] {{__proto__}}' }, checkVariables(odd, given, 'p')).user).toBe('[] {"polluted":true}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('names every problem in one 422', () => {
    try {
      checkVariables(vars, { n: '3', extra: 1 }, 'p');
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ status: 422, code: 'prompt_variables_invalid', param: 'variables.who' });
      expect((err as Error).message).toBe(
        'Invalid variables for prompt "p": "who" is required (string); "n" must be a number, got string; "extra" is not a variable of this prompt (it has who, n, opts).',
      );
    }
  });
});
