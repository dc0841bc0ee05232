// One click on a label doubt corrects the expected JSON where the doubt
// points (web/rescore.js `corrections`): the models' value at that field,
// every doubt of a document applied together, nothing else changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

const context = vm.createContext({ structuredClone });
vm.runInContext(`${readFileSync(new URL('../../web/rescore.js', import.meta.url), 'utf8')}\nthis.Rescore = Rescore;`, context);
const { corrections } = context.Rescore;

const documents = [
  { key: 'k1', expected: { total: '96.00', items: [{ sku: 'A', price: '1.00' }, { sku: 'B', price: '2.00' }] } },
  { key: 'k2', expected: { total: '10.00' } },
];
const doubt = (key, path, consensus) => ({ document_key: key, path, consensus, field: '', expected: null, models: ['a', 'b'] });

test('a doubt puts the models\' value where it points, and nowhere else', () => {
  const out = corrections([doubt('k1', ['items', 1, 'price'], '2.50')], documents);
  assert.deepEqual(JSON.parse(JSON.stringify(out)), {
    k1: { total: '96.00', items: [{ sku: 'A', price: '1.00' }, { sku: 'B', price: '2.50' }] },
  });
  assert.equal(documents[0].expected.items[1].price, '2.00', 'what the report holds is not changed');
});

test('every doubt of a document is applied together, each document under its key', () => {
  const out = corrections([
    doubt('k1', ['total'], '97.00'), doubt('k1', ['items', 0, 'sku'], 'A1'), doubt('k2', ['total'], 11),
  ], documents);
  assert.deepEqual(JSON.parse(JSON.stringify(out)), {
    k1: { total: '97.00', items: [{ sku: 'A1', price: '1.00' }, { sku: 'B', price: '2.00' }] },
    k2: { total: 11 },
  });
});

test('a doubt that leads nowhere corrects nothing', () => {
  assert.deepEqual(Object.keys(corrections([doubt('k3', ['total'], '1')], documents)), [], 'unknown document');
  assert.deepEqual(Object.keys(corrections([doubt('k1', ['items', 5, 'price'], '1')], documents)), [], 'no such row');
  assert.deepEqual(Object.keys(corrections([doubt('k1', [], '1')], documents)), [], 'the whole answer');
  assert.deepEqual(Object.keys(corrections([doubt('k1', ['items', { extra: 0 }], '1')], documents)), [], 'an extra row');
  assert.deepEqual(Object.keys(corrections([{ document_key: 'k1', consensus: '1' }], documents)), [], 'figures without paths');
});
