// A typo in the buyer's expected JSON, in a real headless Chromium against
// the running product: the buyer expects invoice-2's total to be 69.00
// where the invoice says 96.00, and asks every model to read each invoice
// three times; every model reads 96.00. The report shows each model's
// answers side by side and
// the doubt first; one click takes the models' value; the report is scored
// again from the answers it holds (the provider sees no new call) and
// says which version it shows; the first version stays readable. Another
// user's session cannot do it.
// Screenshots: target/screenshots/rescore-*.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createClient } from '@supabase/supabase-js';
import ws from 'ws';
import { accessible } from './axe.mjs';
import { launch, signIn, site } from './browser.mjs';

const supabaseUrl = process.env.SUPABASE_URL || 'http://127.0.0.1:54321';
const providerUrl = process.env.PROVIDER_URL || 'http://127.0.0.1:12112';
const root = new URL('../../', import.meta.url).pathname;
const shots = `${root}target/screenshots/`;
const demo = `${root}devstack/fixtures/demo/`;
mkdirSync(shots, { recursive: true });
const truths = Object.values(JSON.parse(readFileSync(demo + 'provider.json', 'utf8')).answers);
const PASSWORD = 'rescore-password';
// Three models, so one answer the demo provider garbles now and then
// still leaves two readers who agree.
const MODELS = ['openai/gpt-4o-mini', 'anthropic/claude-3-haiku', 'meta-llama/llama-3.2-11b-vision-instruct'];

async function anonClient() {
  const anon = (await (await fetch(`${site}/config.json`)).json()).supabaseAnonKey;
  return createClient(supabaseUrl, anon, { auth: { persistSession: false }, realtime: { transport: ws } });
}

// A buyer with a ready draft of the two demo invoices, the second
// expecting a total the invoice does not say.
async function buyerWithTypo() {
  const client = await anonClient();
  const email = `rescore-${Date.now()}-${Math.floor(Math.random() * 1e6)}@modelpick.local`;
  const { data: signedUp, error } = await client.auth.signUp({ email, password: PASSWORD });
  assert.equal(error, null);
  const user = signedUp.user.id;
  const images = [];
  for (const [i, file] of ['invoice-1.png', 'invoice-2.png'].entries()) {
    const path = `${user}/typo/${file}`;
    const upload = await client.storage.from('benchmark-images')
      .upload(path, new Blob([readFileSync(demo + file)], { type: 'image/png' }), { contentType: 'image/png' });
    assert.equal(upload.error, null);
    const expected = i === 1 ? { ...truths[i], total: 69.0 } : truths[i];
    images.push({ path, name: file, width: 1240, height: 1754, expected });
  }
  const { data: draft, error: insert } = await client.from('benchmark_drafts').insert({
    config_data: { name: 'Invoices with a typo' },
    upload_data: { images },
    schema_data: { prompt: 'Read this invoice and answer with its JSON.' },
    selected_models: MODELS,
    status: 'ready',
  }).select('id').single();
  assert.equal(insert, null);
  return { email, draft: draft.id, client };
}

const providerCalls = async () => (await (await fetch(`${providerUrl}/_devstack/calls`)).json()).length;

test('a doubted label is corrected in one click and the report scored again without a call', { timeout: 300_000 }, async () => {
  const { email, draft, client } = await buyerWithTypo();
  const browser = await launch();
  try {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await signIn(page, email, PASSWORD);
    await page.goto(`${site}/benchmark/new?draft=${draft}`);
    await page.waitForSelector('#pay:not([disabled])');
    assert.match(await page.textContent('#estimate'), /^6 model calls, at most/);
    await page.selectOption('#repeats', '3');
    await page.waitForFunction(() => /^18 model calls \(each model reads each document 3 times\), at most \$[\d.]+ of model cost/
      .test(document.querySelector('#estimate').textContent));
    await page.click('#pay');
    await page.waitForSelector('#product');
    await page.click('#pay');
    await page.waitForURL(/\/report\//, { timeout: 150_000 });
    await page.waitForSelector('#ranking tbody tr');
    const reportUrl = page.url();
    const reportId = new URL(reportUrl).pathname.split('/')[2];

    // Every call was made three times, each answer kept.
    const { data: runs } = await client.rpc('read_report_runs', { p_report_id: reportId });
    assert.equal(runs.length, 18);
    for (const model of MODELS) {
      for (const document of [0, 1]) {
        assert.deepEqual(runs.filter((r) => r.model_id === model && r.image_index === document).map((r) => r.repeat),
          [0, 1, 2], `${model} read document ${document + 1} three times`);
      }
    }
    assert.equal(await page.locator('#repeats-head').isVisible(), true, 'the ranking says how alike the answers were');
    assert.match(await page.locator('#ranking tbody tr').first().locator('td').nth(5).textContent(),
      /^[\d.]+% of fieldsall 3 answers right on [\d.]+% of documents/);
    await page.click('#diffs details.document >> nth=1');
    assert.match(await page.locator('#diffs p.repeats').first().textContent(), /^Asked again: answer 2, .+; answer 3, .+\.$/);

    // The doubt comes first on the page, with its one-click correction.
    await page.waitForSelector('#doubts:not([hidden])');
    const doubt = page.locator('#doubt-list li', { hasText: 'total' });
    assert.match(await doubt.textContent(), /read total of document 2 \(invoice-2\.png\) as 96; you expected 69\./);
    const firstPanel = await page.locator('main > section:not([hidden])').first().getAttribute('id');
    assert.equal(firstPanel, 'doubts', 'the doubt is the first thing the report shows');
    assert.equal(await page.locator('#scoring').count(), 0, 'scored as paid for: nothing to say');
    const passBefore = await page.locator('#ranking tbody tr td:nth-child(2)').allTextContents();
    await accessible(page, 'report with a label doubt');
    await page.screenshot({ path: `${shots}rescore-0-doubt.png`, fullPage: true });

    const calls = await providerCalls();
    await doubt.locator('button.rescore').click();
    await page.waitForSelector('#scoring', { timeout: 60_000 });
    assert.match(await page.textContent('#scoring'), /^Scored again on .+ with your corrected expected JSON: version 2\. No model was called again\. Earlier: version 1 \(as paid for\)\.$/);
    assert.equal(await page.locator('#doubt-list li', { hasText: 'invoice-2.png' }).filter({ hasText: 'total' }).count(), 0,
      'the doubt is gone');
    const passAfter = await page.locator('#ranking tbody tr td:nth-child(2)').allTextContents();
    assert.notDeepEqual(passAfter, passBefore, 'the figures changed');
    assert.equal(await providerCalls(), calls, 'no model was called');
    await accessible(page, 'report scored again');
    await page.screenshot({ path: `${shots}rescore-1-scored-again.png`, fullPage: true });

    // The first version stays readable, said as such.
    await page.click('#scoring a:text("version 1 (as paid for)")');
    await page.waitForSelector('#doubts:not([hidden])');
    assert.match(await page.textContent('#scoring'), /^You are looking at version 1, scored on .+ and replaced on .+ when the expected JSON was corrected/);
    assert.deepEqual(await page.locator('#ranking tbody tr td:nth-child(2)').allTextContents(), passBefore, 'its figures');
    assert.equal(await page.locator('#doubt-list button.rescore').count(), 0, 'nothing to correct from an earlier version');
    await page.click('#scoring a:text("See the current version")');
    await page.waitForFunction(() => /^Scored again on/.test(document.querySelector('#scoring')?.textContent || ''));

    // Another user's session cannot score it again, whatever it sends.
    const stranger = await anonClient();
    await stranger.auth.signUp({ email: `stranger-${Date.now()}@modelpick.local`, password: PASSWORD });
    const { error } = await stranger.rpc('rescore_report', { p_report_id: reportId, p_expected: { x: { total: 1 } } });
    assert.equal(error?.code, 'PT404');
  } finally {
    await browser.close();
  }
});
