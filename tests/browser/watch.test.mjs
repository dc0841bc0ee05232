// A watch for new models, in a real headless Chromium against the running
// product: the owner of a finished report asks to be told; a model arrives
// at the provider and the catalog syncs; the engine mails the owner once
// (read from the local Resend's outbox) with the model's prices, a link
// that opens a re-run draft with it and the report's pick chosen, and an
// unsubscribe link that works signed out. Then a part of the payment is
// refunded in Stripe's Dashboard, and the report tells its owner how much.
// Screenshots: target/screenshots/watch-*.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createClient } from '@supabase/supabase-js';
import ws from 'ws';
import { accessible } from './axe.mjs';
import { launch, signIn, site } from './browser.mjs';
import { addModel, syncCatalog, visionModel } from './catalog.mjs';

const supabaseUrl = process.env.SUPABASE_URL || 'http://127.0.0.1:54321';
const resendUrl = process.env.RESEND_BASE_URL || 'http://127.0.0.1:12113';
const stripeUrl = process.env.STRIPE_API_BASE || 'http://127.0.0.1:12111';
const root = new URL('../../', import.meta.url).pathname;
const shots = `${root}target/screenshots/`;
const demo = `${root}devstack/fixtures/demo/`;
mkdirSync(shots, { recursive: true });
const truths = Object.values(JSON.parse(readFileSync(demo + 'provider.json', 'utf8')).answers);
const PASSWORD = 'watch-password';

async function buyerWithDraft() {
  const anon = (await (await fetch(`${site}/config.json`)).json()).supabaseAnonKey;
  const client = createClient(supabaseUrl, anon, { auth: { persistSession: false }, realtime: { transport: ws } });
  const email = `watch-${Date.now()}-${Math.floor(Math.random() * 1e6)}@modelpick.local`;
  const { data: signedUp, error } = await client.auth.signUp({ email, password: PASSWORD });
  assert.equal(error, null);
  const path = `${signedUp.user.id}/watch/invoice-1.png`;
  const upload = await client.storage.from('benchmark-images')
    .upload(path, new Blob([readFileSync(demo + 'invoice-1.png')], { type: 'image/png' }), { contentType: 'image/png' });
  assert.equal(upload.error, null);
  const { data: draft, error: insert } = await client.from('benchmark_drafts').insert({
    config_data: { name: 'Watched invoices' },
    upload_data: { images: [{ path, name: 'invoice-1.png', width: 1240, height: 1754, expected: truths[0] }] },
    schema_data: { prompt: 'Read this invoice and answer with its JSON.' },
    selected_models: ['openai/gpt-4o-mini', 'anthropic/claude-3-haiku'],
    status: 'ready',
  }).select('id').single();
  assert.equal(insert, null);
  return { email, draft: draft.id, client };
}

async function watchMails(email) {
  const sent = await (await fetch(`${resendUrl}/_devstack/emails`)).json();
  return sent.filter((mail) => mail.to.includes(email) && mail.subject.startsWith('New models for'));
}

test('a watched report mails its owner about a new model once, and the mail\'s links work', { timeout: 300_000 }, async () => {
  const { email, draft, client } = await buyerWithDraft();
  const browser = await launch();
  try {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await signIn(page, email, PASSWORD);
    await page.goto(`${site}/benchmark/new?draft=${draft}`);
    await page.waitForSelector('#pay:not([disabled])');
    await page.click('#pay');
    await page.waitForSelector('#product');
    await page.click('#pay');
    await page.waitForURL(/\/report\//, { timeout: 150_000 });
    const report = page.url();
    await page.waitForSelector('#again:not([hidden])');
    assert.equal(await page.isChecked('#watch'), false);
    await page.check('#watch');
    await page.waitForFunction(() => /At most one email a week/.test(document.querySelector('#watch-note').textContent));
    await page.reload();
    await page.waitForSelector('#again:not([hidden])');
    assert.equal(await page.isChecked('#watch'), true, 'the watch is kept');
    await accessible(page, 'report watched for new models');
    await page.locator('#again').screenshot({ path: `${shots}watch-0-report.png` });

    // A model arrives; the engine's next sweep mails the owner, once.
    const id = `watchco/vision-${Date.now()}`;
    await addModel(visionModel(id, 'Watchco: Vision', Math.floor(Date.now() / 1000), '0.0000005', '0.000003'));
    assert.match(await syncCatalog(), /catalog synced: \d+ models offered \(\d+ added/);
    let mails = [];
    for (let i = 0; i < 60 && !mails.length; i += 1) {
      await new Promise((resolve) => { setTimeout(resolve, 1000); });
      mails = await watchMails(email);
    }
    assert.equal(mails.length, 1, 'one mail');
    const text = mails[0].text;
    assert.match(text, /offered: Vision \(\$0\.50 \/ \$3\.00 per million tokens in \/ out\)/);
    await new Promise((resolve) => { setTimeout(resolve, 12_000); });
    assert.equal((await watchMails(email)).length, 1, 'not twice, whatever the sweeps');

    // Its link: a re-run draft with the new model and the pick chosen.
    const again = text.split(/\s+/).find((w) => w.includes('?again='));
    assert.ok(again.startsWith(`${report}?again=`), again);
    await page.goto(again);
    await page.waitForURL(/\/benchmark\/new\?draft=[0-9a-f-]{36}#step-3$/, { timeout: 30_000 });
    await page.waitForSelector('#wizard:not([hidden])');
    const chosen = await page.locator('#models input:checked').evaluateAll((boxes) => boxes.map((b) => b.value));
    assert.ok(chosen.includes(id), chosen.join(', '));
    assert.equal(chosen.length, 2, `the new model and the pick: ${chosen.join(', ')}`);

    // Its unsubscribe link, signed out: opening it stops nothing; the button does.
    const unsubscribe = text.split(/\s+/).find((w) => w.includes('/unsubscribe?token='));
    const visitor = await (await browser.newContext()).newPage();
    await visitor.goto(unsubscribe);
    await accessible(visitor, 'unsubscribe');
    await visitor.screenshot({ path: `${shots}watch-1-unsubscribe.png`, fullPage: true });
    await visitor.click('#submit');
    await visitor.waitForSelector('#done:not([hidden])');
    assert.match(await visitor.textContent('#done'), /^Done: you will get no more emails about new models/);
    await visitor.reload();
    await visitor.click('#submit');
    await visitor.waitForSelector('#done:not([hidden])');
    assert.match(await visitor.textContent('#done'), /^This link stops nothing/);
    await page.goto(report);
    await page.waitForSelector('#again:not([hidden])');
    assert.equal(await page.isChecked('#watch'), false, 'the report is no longer watched');

    // $5.00 refunded in Stripe's Dashboard: the owner reads it on the report.
    const { data: session } = await client.from('checkout_sessions').select('stripe_session_id').eq('draft_id', draft).single();
    const refund = await fetch(`${stripeUrl}/_devstack/sessions/${session.stripe_session_id}/refund?amount=500`, { method: 'POST' });
    assert.equal(refund.status, 200);
    let said = '';
    for (let i = 0; i < 30 && !/refunded/.test(said); i += 1) {
      await page.goto(report);
      await page.waitForSelector('#again:not([hidden])');
      said = (await page.locator('#refund').count()) ? await page.textContent('#refund') : '';
    }
    assert.equal(said, '$5.00 of your $14.99 payment was refunded.');
  } finally {
    await browser.close();
  }
});
