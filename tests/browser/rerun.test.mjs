// Staying current, in a real headless Chromium against the running
// product: a buyer's finished report; a vision model arrives at the
// provider and `modelpick catalog sync` offers it; the report runs its
// documents again, the wizard opening at the model step with the earlier
// models marked and the new one highlighted; pay, read the new report,
// compare the two (signed in, then signed out with both share links, and
// not at all as a stranger). A report's images outlive its deleted re-run
// draft and go only when the owner deletes them on the report page. Then
// the model step with 300 models, its render and search times printed.
// Screenshots: target/screenshots/rerun-*.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createClient } from '@supabase/supabase-js';
import ws from 'ws';
import { accessible } from './axe.mjs';
import { launch, signIn, site } from './browser.mjs';
import { addModel, syncCatalog, visionModel } from './catalog.mjs';

const supabaseUrl = process.env.SUPABASE_URL || 'http://127.0.0.1:54321';
const root = new URL('../../', import.meta.url).pathname;
const shots = `${root}target/screenshots/`;
const demo = `${root}devstack/fixtures/demo/`;
mkdirSync(shots, { recursive: true });
const shot = (page, name) => page.screenshot({ path: `${shots}rerun-${name}.png`, fullPage: true });
const truths = Object.values(JSON.parse(readFileSync(demo + 'provider.json', 'utf8')).answers);
const PASSWORD = 'rerun-password';

// A buyer with a ready draft of the two demo invoices and two models, made
// through supabase-js as the wizard makes one.
async function buyerWithDraft() {
  const anon = (await (await fetch(`${site}/config.json`)).json()).supabaseAnonKey;
  const client = createClient(supabaseUrl, anon, { auth: { persistSession: false }, realtime: { transport: ws } });
  const email = `rerun-${Date.now()}-${Math.floor(Math.random() * 1e6)}@modelpick.local`;
  const { data: signedUp, error } = await client.auth.signUp({ email, password: PASSWORD });
  assert.equal(error, null);
  const user = signedUp.user.id;
  const images = [];
  for (const [i, file] of ['invoice-1.png', 'invoice-2.png'].entries()) {
    const path = `${user}/march/${file}`;
    const upload = await client.storage.from('benchmark-images')
      .upload(path, new Blob([readFileSync(demo + file)], { type: 'image/png' }), { contentType: 'image/png' });
    assert.equal(upload.error, null);
    images.push({ path, name: file, width: 1240, height: 1754, expected: truths[i] });
  }
  const { data: draft, error: insert } = await client.from('benchmark_drafts').insert({
    config_data: { name: 'Supplier invoices, March' },
    upload_data: { images },
    schema_data: { prompt: 'Read this invoice and answer with its JSON.' },
    selected_models: ['openai/gpt-4o-mini', 'mistralai/pixtral-12b'],
    status: 'ready',
  }).select('id').single();
  assert.equal(insert, null);
  return { email, draft: draft.id, client, user };
}

// Pays for the draft open in `page` on the Stripe stand-in and waits for
// its report.
async function payAndRead(page) {
  await page.waitForSelector('#pay:not([disabled])');
  await page.click('#pay');
  await page.waitForSelector('#product');
  await page.click('#pay');
  await page.waitForURL(/\/report\//, { timeout: 150_000 });
  await page.waitForSelector('#ranking tbody tr');
  return page.url();
}

test('a report runs again on a model added since, and the two reports compare', { timeout: 360_000 }, async () => {
  const { email, draft } = await buyerWithDraft();
  const browser = await launch();
  try {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await signIn(page, email, PASSWORD);
    await page.goto(`${site}/benchmark/new?draft=${draft}`);
    const march = await payAndRead(page);

    // A model arrives at the provider after the report ran; the sync offers it.
    await addModel(visionModel('acme/vision-pro', 'Acme: Vision Pro', Math.floor(Date.now() / 1000)));
    assert.match(await syncCatalog(), /catalog synced: \d+ models offered \(\d+ added/);

    await page.goto(march);
    await page.waitForSelector('#again:not([hidden])');
    await accessible(page, 'report with its re-run panel');
    await page.locator('#again').screenshot({ path: `${shots}rerun-0-again.png` });
    await page.click('#rerun');
    await page.waitForURL(/\/benchmark\/new\?draft=[0-9a-f-]{36}#step-3$/);
    await page.waitForSelector('#wizard:not([hidden])');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'model-search', 'the wizard opens at the model step');
    assert.match(await page.textContent('#rerun-note'), /Its 2 models are marked; 1 model was added since it ran, highlighted\./);
    assert.equal(await page.inputValue('#name'), 'Supplier invoices, March, again');
    assert.deepEqual(JSON.parse(await page.inputValue('#expected-1')), truths[1], 'the same expected JSON');
    const row = (id) => page.locator('label.model', { has: page.locator(`input[value="${id}"]`) });
    assert.match(await row('acme/vision-pro').textContent(), /New since your report/);
    assert.match(await row('openai/gpt-4o-mini').textContent(), /In your earlier report/);
    assert.equal(await page.locator('#models input:checked').count(), 0, 'no model picked yet');
    await row('acme/vision-pro').scrollIntoViewIfNeeded();
    await page.locator('section[aria-labelledby="step-3"]').screenshot({ path: `${shots}rerun-1-models.png` });
    await page.fill('#model-search', 'acme');
    assert.match(await page.textContent('#model-count'), /^1 of \d+ models match\.$/);
    await row('acme/vision-pro').locator('input').check();
    await page.waitForFunction(() => /^4 model calls|^2 model calls/.test(document.querySelector('#estimate').textContent));
    await accessible(page, 'model step of a re-run');
    const again = await payAndRead(page);
    assert.notEqual(again, march);

    // The new report links its comparison with the earlier one.
    await page.waitForSelector('#comparisons a');
    await page.click('#comparisons a');
    await page.waitForURL(/\/compare\?a=/);
    await page.waitForSelector('#models-panel:not([hidden])');
    assert.match(await page.textContent('#verdict-text'), /your earlier pick/i);
    assert.match(await page.textContent('#summary'), /^2 documents in both reports/);
    const labels = await page.locator('#models tbody tr td:first-child').allTextContents();
    assert.equal(labels.length, 3);
    assert.ok(labels.some((l) => l.startsWith('Vision Pro (new)')), labels.join(' | '));
    await accessible(page, 'compare');
    await shot(page, '2-compare');

    // Signed out, both share links open the comparison; one alone does not.
    const shareOf = async (url) => {
      await page.goto(url);
      await page.waitForSelector('#share-link');
      return new URL(await page.textContent('#share-link')).searchParams.get('share');
    };
    const [shareMarch, shareAgain] = [await shareOf(march), await shareOf(again)];
    const id = (url) => new URL(url).pathname.split('/')[2];
    const visitor = await (await browser.newContext()).newPage();
    await visitor.goto(`${site}/compare?a=${id(march)}&b=${id(again)}&share_a=${shareMarch}&share_b=${shareAgain}`);
    await visitor.waitForSelector('#models-panel:not([hidden])');
    await visitor.goto(`${site}/compare?a=${id(march)}&b=${id(again)}&share_a=${shareMarch}&share_b=wrong`);
    await visitor.waitForFunction(() => /cannot be compared here/.test(document.querySelector('#summary').textContent));
    // A stranger's session reads neither.
    const stranger = await buyerWithDraft();
    const strangerPage = await (await browser.newContext()).newPage();
    await signIn(strangerPage, stranger.email, PASSWORD);
    await strangerPage.goto(`${site}/compare?a=${id(march)}&b=${id(again)}`);
    await strangerPage.waitForFunction(() => /cannot be compared here/.test(document.querySelector('#summary').textContent));
    await strangerPage.goto(march);
    await strangerPage.waitForFunction(() => /does not exist, or this link does not open it/.test(document.querySelector('#summary').textContent));
  } finally {
    await browser.close();
  }
});

test('a report keeps its images when its re-run draft is deleted, and loses them only when its owner deletes them', { timeout: 300_000 }, async () => {
  const { email, draft, client, user } = await buyerWithDraft();
  const stored = async () => ((await client.storage.from('benchmark-images').list(`${user}/march`)).data || []).length;
  const browser = await launch();
  try {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    const dialogs = [];
    page.on('dialog', (dialog) => { dialogs.push(dialog.message()); dialog.accept(); });
    await signIn(page, email, PASSWORD);
    await page.goto(`${site}/benchmark/new?draft=${draft}`);
    const report = await payAndRead(page);

    // Tidying up: the re-run draft is deleted from the dashboard.
    await page.waitForSelector('#again:not([hidden])');
    await page.click('#rerun');
    await page.waitForURL(/\/benchmark\/new\?draft=/);
    await page.goto(`${site}/`);
    await page.locator('#drafts [data-delete]').first().click();
    await page.waitForFunction(() => !document.querySelector('#drafts [data-delete]'));
    assert.equal(await stored(), 2, 'the report\'s files are still there');
    await page.goto(report);
    await page.waitForSelector('#diffs img.document-image', { state: 'attached' });
    assert.equal(await page.locator('#diffs img.document-image').count(), 2, 'and the report shows them');

    // The page says when retention deletes them; the owner deletes them
    // sooner, and the page says so.
    await page.waitForFunction(() => /days after the report finished/.test(document.querySelector('#images-kept').textContent));
    assert.match(await page.textContent('#images-kept'), /deleted on .+, \d+ days after the report finished/);
    await page.click('#delete-images');
    await page.waitForFunction(() => /were deleted on/.test(document.querySelector('#delete-images-note').textContent));
    assert.match(dialogs.at(-1), /document images for good/);
    assert.equal(await stored(), 0, 'the files are gone from Storage');
    assert.equal(await page.locator('#diffs img').count(), 0);
    await page.reload();
    await page.waitForSelector('#ranking tbody tr');
    await page.waitForFunction(() => /were deleted on/.test(document.querySelector('#delete-images-note').textContent));
    assert.equal(await page.isHidden('#delete-images'), true);
    assert.equal(await page.textContent('#images-kept'), '', 'no deletion date for images already gone');
    assert.equal(await page.locator('#diffs img').count(), 0, 'the report reads without them');
    const { error } = await client.rpc('draft_from_report', { p_report_id: new URL(report).pathname.split('/')[2] });
    assert.match(error?.message || '', /images were deleted, so it cannot be run again/);
  } finally {
    await browser.close();
  }
});

test('the model step stays quick with 300 models', { timeout: 120_000 }, async (t) => {
  const makers = ['Acme', 'Bolt', 'Cobalt', 'Delta', 'Ember', 'Fjord', 'Gale', 'Harbor', 'Iris', 'Juno', 'Kite', 'Lumen'];
  const now = Math.floor(Date.now() / 1000);
  for (let i = 0; i < 280; i += 1) {
    const maker = makers[i % makers.length];
    await addModel(visionModel(`${maker.toLowerCase()}/vision-${i}`, `${maker}: Vision ${i}`, now - i * 86_400));
  }
  await syncCatalog();
  const { email, draft } = await buyerWithDraft();
  const browser = await launch();
  try {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await signIn(page, email, PASSWORD);
    await page.goto(`${site}/benchmark/new?draft=${draft}`);
    await page.waitForSelector('#wizard:not([hidden])');
    const entries = await page.locator('#models label.model').count();
    assert.ok(entries >= 300, `${entries} models in the step`);
    const render = await page.evaluate(() => performance.getEntriesByName('model-step-render')[0].duration);
    const searches = await page.evaluate(() => {
      const input = document.querySelector('#model-search');
      return ['v', 'vi', 'vision 1', 'acme', 'gpt', ''].map((query) => {
        const start = performance.now();
        input.value = query;
        input.dispatchEvent(new Event('input'));
        return performance.now() - start;
      });
    });
    const slowest = Math.max(...searches);
    t.diagnostic(`model step: ${entries} models rendered in ${render.toFixed(1)} ms; a search keystroke filters them in ${slowest.toFixed(1)} ms at most (${searches.map((s) => s.toFixed(1)).join(', ')} ms)`);
    await page.fill('#model-search', 'juno 1');
    assert.match(await page.textContent('#model-count'), /^\d+ of \d+ models match\.$/);
    await accessible(page, 'model step with 300 models');
  } finally {
    await browser.close();
  }
});
