// The wizard's rules (web/wizard.js) against the database that has the
// final word: every limit the page checks as the user types is refused by
// the database with the very sentence the page shows, and one user's
// wizard cannot read, list or reference another user's images.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import { createClient } from '@supabase/supabase-js';
import ws from 'ws';

const url = process.env.SUPABASE_URL;
const anonKey = process.env.SUPABASE_ANON_KEY;
const options = { auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: ws } };

// The page's script, as the browser runs it (its DOM half is never called).
const context = { TextEncoder };
vm.runInNewContext(`${readFileSync(new URL('../../web/vendor/jsonc-parser.js', import.meta.url), 'utf8')}\n${readFileSync(new URL('../../web/wizard.js', import.meta.url), 'utf8')}\nthis.DraftRules = DraftRules;`, context);
const rules = context.DraftRules;
// Values made in the page's realm, as plain values of this one.
const plain = (value) => JSON.parse(JSON.stringify(value));

async function newUser(name) {
  const client = createClient(url, anonKey, options);
  const { data, error } = await client.auth.signUp({ email: `${name}-${Date.now()}@example.test`, password: 'wizard-password' });
  assert.equal(error, null);
  return { client, id: data.user.id };
}

const nested = (depth) => (depth === 0 ? 1 : { a: nested(depth - 1) });

test('each limit the page shows is the database\'s own refusal, word for word', async () => {
  const { client } = await newUser('limits');
  const { data: limits } = await client.rpc('draft_limits');
  const { data: draft } = await client.from('benchmark_drafts').insert({ config_data: { name: 'limits' } }).select('id').single();
  const tooMany = limits.max_fields + 1;
  const cases = {
    'a list too long': { items: Array.from({ length: limits.max_array_items + 1 }, (_, i) => i) },
    'too deep': nested(limits.max_depth + 1),
    'too many fields': Object.fromEntries(Array.from({ length: tooMany }, (_, i) => [`f${i}`, i % 10])),
    'too large': { text: 'x'.repeat(limits.max_expected_bytes) },
  };
  for (const [label, expected] of Object.entries(cases)) {
    const what = 'expected JSON of image 1 (receipt.png)';
    const page = rules.readExpected(JSON.stringify(expected, null, 2), limits, what);
    assert.ok(page.error, `${label}: the page refuses it`);
    const image = { path: 'someone/receipt.png', name: 'receipt.png', expected };
    const { error } = await client.from('benchmark_drafts').update({ upload_data: { images: [image] } }).eq('id', draft.id);
    assert.equal(error?.code, '23514', label);
    assert.equal(error.message, page.error, `${label}: the same sentence`);
  }
  const { data: stored } = await client.from('benchmark_drafts').select('upload_data').eq('id', draft.id).single();
  assert.deepEqual(stored.upload_data, { images: [] }, 'nothing was stored');
  const fine = rules.readExpected(JSON.stringify({ total: '12,50 €', items: [{ sku: 'A-1' }] }), limits);
  assert.deepEqual([fine.error, fine.fields], [undefined, 2]);
});

test('a wizard cannot read, list or reference another user\'s images', async () => {
  const alice = await newUser('alice');
  const mallory = await newUser('mallory');
  const png = new Blob([readFileSync(new URL('../../devstack/fixtures/demo/invoice-1.png', import.meta.url))], { type: 'image/png' });
  const path = `${alice.id}/draft/invoice.png`;
  const { error: uploaded } = await alice.client.storage.from('benchmark-images').upload(path, png, { contentType: 'image/png' });
  assert.equal(uploaded, null);

  const { data: listed } = await mallory.client.storage.from('benchmark-images').list(`${alice.id}/draft`);
  assert.deepEqual(listed, []);
  const { data: downloaded, error: refused } = await mallory.client.storage.from('benchmark-images').download(path);
  assert.equal(downloaded, null);
  assert.ok(refused);
  const { error: intoAlice } = await mallory.client.storage.from('benchmark-images').upload(`${alice.id}/draft/mine.png`, png, { contentType: 'image/png' });
  assert.ok(intoAlice, 'nobody writes into another user\'s folder');

  // A draft naming Alice's image can be saved, never made ready (the engine
  // would fetch it with the service role's key).
  const { data: models } = await mallory.client.from('model_catalog').select('id').eq('active', true).limit(1);
  const { data: draft } = await mallory.client.from('benchmark_drafts').insert({
    config_data: { name: 'borrowed' },
    upload_data: { images: [{ path, name: 'invoice.png', expected: { total: 1 } }] },
    schema_data: { prompt: 'Read it.' },
    selected_models: [models[0].id],
  }).select('id').single();
  const { error: ready } = await mallory.client.from('benchmark_drafts').update({ status: 'ready' }).eq('id', draft.id);
  assert.equal(ready.code, '23514');
  assert.equal(ready.message, 'Every image must be stored under the owner\'s own folder.');
});

test('the page finds where JSON goes wrong, with line and column', () => {
  const limits = { max_expected_bytes: 65536, max_depth: 16, max_array_items: 200, max_fields: 2000 };
  const cases = [
    ['{\n  "a": 1\n  "b": 2\n}', 'Line 3, column 3: expected , or } here.'],
    ['{"a": [1, 2,]}', 'Line 1, column 13: remove the comma before ].'],
    ["{'a': 1}", 'Line 1, column 2: expected a key in double quotes.'],
    ['{"a": "unclosed', 'Line 1, column 16: this text is never closed with ".'],
    ['[1, 2]', 'The expected JSON must be one object: { … }.'],
    // What JSON.parse refuses inside text, found where it is.
    ['{\n  "a": "x\ty"\n}', 'Line 2, column 10: text in double quotes cannot hold a tab or another control character; write \\t.'],
    ['{"a": "\\x"}', 'Line 1, column 8: this \\ starts no escape JSON knows (\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u).'],
    ['{"a": 1} x', 'Line 1, column 10: extra text after the JSON.'],
  ];
  for (const [text, message] of cases) assert.equal(rules.readExpected(text, limits).error, message, text);
  const schema = plain(rules.infer([{ date: '2024-03-05', total: 12.5, lines: [{ qty: 1 }] }, { date: '2024-04-01', total: null, lines: [] }]));
  assert.deepEqual(schema.properties.date, { type: 'string', format: 'date' });
  assert.deepEqual(schema.properties.total, { type: ['number', 'null'] });
  assert.deepEqual(schema.properties.lines.items.required, ['qty']);
  assert.deepEqual(plain(rules.emptied({ a: 'x', n: 1, l: [{ b: true }, { b: false }] })), { a: '', n: null, l: [{ b: null }] });
});
