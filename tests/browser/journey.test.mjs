// The whole journey in a real headless Chromium (Debian's), against a running
// product (scripts/dev, or the stack scripts/test starts): sign in, open the
// draft, Pay & Run, pay on the Stripe stand-in, watch progress, read the
// report and check its numbers against the database; then another user is
// refused and the share link works signed out. Screenshots: target/screenshots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { launch, signIn } from './browser.mjs';
import { accessible, fitsThePhone } from './axe.mjs';

const site = process.env.SITE_URL || 'http://127.0.0.1:8787';
const supabaseUrl = process.env.SUPABASE_URL || 'http://127.0.0.1:54321';
const shots = new URL('../../target/screenshots/', import.meta.url).pathname;
const DEMO_DRAFT = 'd3e0a000-0000-4000-8000-0000000000d1';
mkdirSync(shots, { recursive: true });


// The report's figures as the database has them, read as its owner.
async function summaryOf(reportId) {
  const { createClient } = await import('@supabase/supabase-js');
  const ws = (await import('ws')).default;
  const anon = (await (await fetch(`${site}/config.json`)).json()).supabaseAnonKey;
  const owner = createClient(supabaseUrl, anon, { auth: { persistSession: false }, realtime: { transport: ws } });
  await owner.auth.signInWithPassword({ email: 'demo@modelpick.local', password: 'modelpick-demo' });
  const { data, error } = await owner.from('report_model_summary')
    .select('model_id, accuracy, field_accuracy, median_latency_ms').eq('report_id', reportId);
  assert.equal(error, null);
  return data;
}

// How long after a run is recorded the processing page shows it.
async function progressLag(reportId, shown) {
  const { createClient } = await import('@supabase/supabase-js');
  const ws = (await import('ws')).default;
  const anon = (await (await fetch(`${site}/config.json`)).json()).supabaseAnonKey;
  const owner = createClient(supabaseUrl, anon, { auth: { persistSession: false }, realtime: { transport: ws } });
  await owner.auth.signInWithPassword({ email: 'demo@modelpick.local', password: 'modelpick-demo' });
  const { data: runs } = await owner.from('benchmark_runs').select('created_at').eq('report_id', reportId).order('created_at');
  const lags = [...shown].filter(([done]) => done > 0 && runs[done - 1])
    .map(([done, at]) => at - Date.parse(runs[done - 1].created_at)).sort((a, b) => a - b);
  const gaps = runs.slice(1).map((r, i) => Date.parse(r.created_at) - Date.parse(runs[i].created_at));
  return `processing page: ${shown.size} progress states shown for ${runs.length} runs; a recorded run shown after `
    + `p50 ${lags[Math.floor(lags.length / 2)] ?? '–'} ms, max ${lags[lags.length - 1] ?? '–'} ms (poll 1 s); longest wait between runs ${Math.max(0, ...gaps)} ms`;
}


let reportUrl;

test('sign in, pay, watch the run and read the report', { timeout: 180_000 }, async (t) => {
  const browser = await launch();
  try {
    const page = await (await browser.newContext()).newPage();
    await signIn(page, 'demo@modelpick.local', 'modelpick-demo');
    await page.waitForSelector('#reports:not(.muted), #reports a, #reports');
    await accessible(page, 'dashboard');
    await page.screenshot({ path: shots + '1-dashboard.png', fullPage: true });

    await page.goto(`${site}/benchmark/new?draft=${DEMO_DRAFT}`);
    await page.waitForSelector('#image-2');
    await page.waitForFunction(() => [...document.querySelectorAll('.thumbs img')].every((i) => i.complete && i.naturalWidth > 0));
    assert.match(await page.textContent('#models'), /openai\/gpt-4o/);
    await accessible(page, 'the draft, ready to pay');
    await page.screenshot({ path: shots + '2-pay-and-run.png', fullPage: true });

    await page.click('#pay');
    await page.waitForSelector('#product');
    assert.match(await page.textContent('#amount'), /14\.99 USD/);
    await page.screenshot({ path: shots + '3-stripe-checkout.png', fullPage: true });

    await page.click('#pay');
    await page.waitForURL(/\/benchmark\/[0-9a-f-]+\/processing/);
    const reportId = page.url().split('/')[4];
    // Measured, not timed: when the page first shows each count of runs done.
    const shown = new Map();
    const sampling = (async () => {
      const until = Date.now() + 150_000;
      while (!/\/report\//.test(page.url()) && Date.now() < until) {
        const text = await page.getAttribute('#progress', 'aria-valuetext').catch(() => null);
        const done = text && /^(\d+) of \d+/.exec(text);
        if (done && !shown.has(Number(done[1]))) shown.set(Number(done[1]), Date.now());
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    await page.waitForFunction(() => /Running|complete/.test(document.querySelector('#headline').textContent), null, { timeout: 60_000 });
    assert.equal(await page.getAttribute('#progress', 'role'), 'progressbar');
    await accessible(page, 'processing');
    await page.screenshot({ path: shots + '4-processing.png', fullPage: true });

    await page.waitForURL(/\/report\//, { timeout: 120_000 });
    await sampling;
    await page.waitForSelector('#ranking tbody tr');
    await page.screenshot({ path: shots + '5-report.png', fullPage: true });
    t.diagnostic(await progressLag(reportId, shown));

    // The page shows what the database says.
    const summary = await summaryOf(reportId);
    assert.equal(summary.length, 3);
    for (const model of summary) {
      const row = page.locator(`#ranking tr[data-model="${model.model_id}"] td`);
      // Each figure first, then its interval or its n.
      assert.ok((await row.nth(1).textContent()).startsWith((model.accuracy * 100).toFixed(1) + '%'));
      assert.ok((await row.nth(2).textContent()).startsWith((model.field_accuracy * 100).toFixed(1) + '%'));
      assert.match(await row.nth(4).textContent(), /^(\$[0-9.,]+|none read right)$/, 'cost per correct document');
      assert.equal(await row.nth(5).textContent(), `${model.median_latency_ms} msn = 3`);
    }
    // The figures' frontier is marked in the table and ringed on the chart.
    const frontier = await page.locator('#ranking .frontier').count();
    assert.ok(frontier >= 1, 'at least one model is best value');
    assert.equal(await page.locator('#chart circle.frontier').count(), frontier);
    // A model that takes no JSON Schema is said to have been asked in the
    // prompt only, in the ranking and in how the report was run.
    const { stdout: promptOnly } = await promisify(execFile)('psql', [process.env.DATABASE_URL, '-XAtc',
      `select count(*) from public.reports r, jsonb_each(r.config_snapshot -> 'model_prices') p
        where r.id = '${reportId}' and r.json_schema is not null
          and not coalesce((p.value ->> 'supports_json_schema')::boolean, false)`]);
    assert.equal(await page.locator('#ranking tbody tr', { hasText: 'takes no JSON Schema' }).count(), Number(promptOnly.trim()));
    assert.equal((await page.textContent('#run-meta')).split('takes no JSON Schema').length - 1, Number(promptOnly.trim()));
    // Printed, it is a light A4 document without navigation, the ranking
    // and the chart each kept on one page.
    await page.emulateMedia({ media: 'print' });
    assert.equal(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(255, 255, 255)');
    for (const hidden of ['header', 'footer.site', '#again', '#copy-share']) {
      assert.equal(await page.locator(hidden).first().evaluate((e) => getComputedStyle(e).display), 'none', hidden);
    }
    for (const whole of ['#ranking', '#chart']) {
      assert.equal(await page.evaluate((s) => getComputedStyle(document.querySelector(s).closest('.panel')).breakInside, whole), 'avoid', whole);
    }
    const pdf = await page.pdf({ preferCSSPageSize: true, printBackground: true });
    writeFileSync(shots + '5-report.pdf', pdf);
    assert.match(pdf.toString('latin1'), /\/MediaBox \[0 0 59[0-9.]+ 84[0-9.]+\]/, 'A4 pages');
    await page.emulateMedia({ media: 'screen' });
    // The verdict follows the buyer's priority; the field map has every model.
    const byAccuracy = await page.textContent('#verdict-text');
    assert.ok(byAccuracy.length > 20, byAccuracy);
    await page.check('input[name="priority"][value="cost"]');
    assert.match(await page.textContent('#verdict-text'), /^For the lowest cost, pick /);
    assert.match(await page.textContent('#sample-warning'), /^With 3 documents/);
    assert.equal(await page.locator('#field-map thead th').count(), 4);
    // A field a model got wrong somewhere opens where, in words.
    // (The stand-in's mistakes are fixed per model and image, so some cell has them.)
    const cell = page.locator('#field-map button.cell').first();
    assert.ok(await cell.count(), 'a model got some field wrong somewhere');
    await cell.click();
    assert.match(await page.textContent('#field-examples li'), /^Document \d \(invoice-\d\.png\): /);
    // Each document: its image for its owner, every model in the ranking's order.
    assert.match(await page.textContent('#diffs details.document summary'), /· [0-3] of 3 models entirely right$/,
      'each document says how many models read it right, as the figures count it');
    await page.click('#diffs details.document summary');
    await page.waitForFunction(() => document.querySelector('.document-image')?.naturalWidth > 0);
    const order = await page.locator('#ranking tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.model));
    assert.equal(order.length, 3);
    await accessible(page, 'report with a document open');
    reportUrl = (await page.textContent('#share-link')).trim();
    assert.match(reportUrl, new RegExp(`/report/${reportId}\\?share=[0-9a-f]{64}$`));
    await accessible(page, 'report');

    // Every page on a phone: readable, nothing wider than the screen.
    const phone = await (await browser.newContext({ viewport: { width: 375, height: 800 } })).newPage();
    await signIn(phone, 'demo@modelpick.local', 'modelpick-demo');
    for (const [name, path, ready] of [['dashboard', '/', '#reports a'], ['report', `/report/${reportId}`, '#ranking tbody tr'],
      ['wizard', '/benchmark/new', '#wizard:not([hidden])'], ['scoring', '/scoring', 'h1'], ['sign-up', '/sign-up', '#form'],
      ['checkout-cancelled', `/checkout/cancel?draft=${DEMO_DRAFT}`, 'h1']]) {
      await phone.goto(site + path);
      await phone.waitForSelector(ready);
      await fitsThePhone(phone, name);
      await accessible(phone, `${name} at 375 px`);
      await phone.screenshot({ path: `${shots}phone-${name}.png`, fullPage: true });
    }
    // The processing page of a finished report says so, then opens it.
    await phone.goto(`${site}/benchmark/${reportId}/processing`);
    await phone.waitForFunction(() => /complete/.test(document.querySelector('#headline').textContent));
    await fitsThePhone(phone, 'processing');
    await phone.screenshot({ path: `${shots}phone-processing.png`, fullPage: true });
    await phone.waitForURL(/\/report\//);
  } finally {
    await browser.close();
  }
});

test('another user cannot see the report; the share link shows it signed out', { timeout: 60_000 }, async () => {
  assert.ok(reportUrl, 'the first test produced a report');
  const browser = await launch();
  try {
    const stranger = await (await browser.newContext()).newPage();
    await stranger.goto(`${site}/sign-in`);
    const { createClient } = await import('@supabase/supabase-js');
    const ws = (await import('ws')).default;
    const anon = (await (await fetch(`${site}/config.json`)).json()).supabaseAnonKey;
    await createClient(supabaseUrl, anon, { auth: { persistSession: false }, realtime: { transport: ws } })
      .auth.signUp({ email: 'stranger@modelpick.local', password: 'stranger-pass' });
    await signIn(stranger, 'stranger@modelpick.local', 'stranger-pass');
    await stranger.goto(reportUrl.split('?')[0]);
    await stranger.waitForFunction(() => /does not exist/.test(document.querySelector('#summary').textContent));
    await stranger.screenshot({ path: shots + '6-other-user.png', fullPage: true });

    const visitor = await (await browser.newContext()).newPage();
    await visitor.goto(reportUrl);
    await visitor.waitForSelector('#ranking tbody tr');
    assert.equal(await visitor.locator('#ranking tbody tr').count(), 3);
    assert.equal(await visitor.isHidden('#sign-out'), true, 'no "Sign out" for a link\'s visitor');
    await visitor.screenshot({ path: shots + '7-shared.png', fullPage: true });
    const phone = await (await browser.newContext({ viewport: { width: 375, height: 800 } })).newPage();
    await phone.goto(reportUrl);
    await phone.waitForSelector('#ranking tbody tr');
    await fitsThePhone(phone, 'shared report');
    await accessible(phone, 'shared report at 375 px');
    await phone.screenshot({ path: shots + 'phone-shared.png', fullPage: true });
  } finally {
    await browser.close();
  }
});
