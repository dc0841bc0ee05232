// The model step's order and search, on the page's own code (web/model-step.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

const context = { App: { money: (n) => `$${n}`, rates: (p, c) => `$${p} / $${c}`, text: String } };
vm.runInNewContext(`${readFileSync(new URL('../../web/model-step.js', import.meta.url), 'utf8')}\nthis.ModelStep = ModelStep;`, context);
const { ModelStep } = context;

const model = (id, provider, display_name, created, json = false) =>
  ({ id, provider, display_name, provider_created_at: created, supports_json_schema: json });
const catalog = [
  model('openai/gpt-4o', 'OpenAI', 'GPT-4o', '2024-05-13T00:00:00Z', true),
  model('google/gemini-2.5-flash', 'Google', 'Gemini 2.5 Flash', '2025-06-17T00:00:00Z', true),
  model('openai/gpt-5-mini', 'OpenAI', 'GPT-5 Mini', '2026-11-22T00:00:00Z', true),
  model('anthropic/claude-3-haiku', 'Anthropic', 'Claude 3 Haiku', null),
  model('x-ai/grok-2-vision-1212', 'xAI', 'Grök 2 Vision', '2024-12-16T00:00:00Z'),
];

test('makers come A to Z, each maker newest first, a model without a date last', () => {
  const groups = ModelStep.arrange([...catalog, model('openai/gpt-4o-mini', 'OpenAI', 'GPT-4o mini', null)]);
  assert.deepEqual([...groups.map((g) => g.maker)], ['Anthropic', 'Google', 'OpenAI', 'xAI']);
  assert.deepEqual([...groups[2].models.map((m) => m.id)], ['openai/gpt-5-mini', 'openai/gpt-4o', 'openai/gpt-4o-mini']);
});

test('a search finds by every word in name, id or maker, accents and case aside', () => {
  const found = (query, jsonOnly = false) => catalog.filter((m) => ModelStep.matches(m, query, jsonOnly)).map((m) => m.id);
  assert.deepEqual(found('openai mini'), ['openai/gpt-5-mini']);
  assert.deepEqual(found('GROK'), ['x-ai/grok-2-vision-1212']);
  assert.deepEqual(found('flash google'), ['google/gemini-2.5-flash']);
  assert.deepEqual(found('', true), ['openai/gpt-4o', 'google/gemini-2.5-flash', 'openai/gpt-5-mini']);
  assert.deepEqual(found('claude', true), []);
});

test('zero data retention keeps only the models with an endpoint that keeps nothing', () => {
  const keeps = new Set(['openai/gpt-4o', 'anthropic/claude-3-haiku']);
  const withMarks = catalog.map((m) => ({ ...m, zero_retention: keeps.has(m.id) }));
  const found = (query, jsonOnly, keepsNothing) =>
    withMarks.filter((m) => ModelStep.matches(m, query, jsonOnly, keepsNothing)).map((m) => m.id);
  assert.deepEqual(found('', false, true), ['openai/gpt-4o', 'anthropic/claude-3-haiku']);
  assert.deepEqual(found('', true, true), ['openai/gpt-4o'], 'both narrowings at once');
  assert.deepEqual(found('gemini', false, true), []);
  assert.equal(found('', false, false).length, catalog.length, 'without it, every model');
});

test('new means added by the provider in the last 30 days', () => {
  const now = Date.parse('2026-12-04T00:00:00Z');
  assert.equal(ModelStep.isNew(catalog[2], now), true);
  assert.equal(ModelStep.isNew(catalog[1], now), false);
  assert.equal(ModelStep.isNew(catalog[3], now), false, 'no date, not new');
});
