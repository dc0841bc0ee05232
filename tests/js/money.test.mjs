// Prices per million tokens are written one way on every page
// (web/money.js `rates`): cents always, more digits only when the price
// has them, exact whatever form the price arrives in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

const context = vm.createContext({});
vm.runInContext(`${readFileSync(new URL('../../web/money.js', import.meta.url), 'utf8')}\nthis.rates = rates; this.rate = rate;`, context);

test('a price pair reads the same way whatever its digits', () => {
  assert.equal(context.rates(0.5, 3), '$0.50 / $3.00');
  assert.equal(context.rates('0.5', '3.000000'), '$0.50 / $3.00');
  assert.equal(context.rates('0.075', '0.3'), '$0.075 / $0.30');
  assert.equal(context.rates('0.0375', 15), '$0.0375 / $15.00');
  assert.equal(context.rates(2.5, 10), '$2.50 / $10.00');
  assert.equal(context.rate(1e-7), '$0.0000001', 'no floating point noise');
  assert.equal(context.rate('00.10'), '$0.10');
  assert.equal(context.rate(null), '$0.00');
  assert.equal(context.rate('bad'), '$0.00');
});
