// A brand-new visitor creates a benchmark from files on disk and buys it,
// in a real headless Chromium against the running product: sign up, upload
// (one file refused, with why), expected JSON (a typo shown with its line
// and column, then fixed), the inferred schema edited, three models, the
// estimate, a reload that resumes the draft, pay on the Stripe stand-in,
// watch the run, read the report. Screenshots: target/screenshots/wizard-*.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from './browser.mjs';
import { accessible } from './axe.mjs';

const site = process.env.SITE_URL || 'http://127.0.0.1:8787';
const shots = new URL('../../target/screenshots/', import.meta.url).pathname;
const demo = new URL('../../devstack/fixtures/demo/', import.meta.url).pathname;
mkdirSync(shots, { recursive: true });


// What the demo invoices say (the provider stand-in's truth for them).
const truths = Object.values(JSON.parse(readFileSync(demo + 'provider.json', 'utf8')).answers);
const shot = (page, name) => page.screenshot({ path: `${shots}wizard-${name}.png`, fullPage: true });

test('a new visitor signs up, creates a benchmark from files, pays and reads the report', { timeout: 240_000 }, async () => {
  const browser = await launch();
  const files = mkdtempSync(join(tmpdir(), 'wizard-'));
  writeFileSync(join(files, 'notes.txt'), 'not an image');
  try {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    const email = `new-${Date.now()}@example.com`;

    await page.goto(`${site}/sign-in`);
    await page.click('a[href="/sign-up"]');
    await page.fill('#email', email);
    await page.fill('#password', 'a-good-password');
    await page.fill('#confirm', 'another-password');
    await page.click('#submit');
    assert.equal(await page.textContent('#error'), 'The two passwords are not the same.');
    assert.equal(await page.getAttribute('#confirm', 'aria-invalid'), 'true');
    await page.fill('#confirm', 'a-good-password');
    await shot(page, '1-sign-up');
    await page.click('#submit');
    await page.waitForURL(`${site}/`);
    await page.waitForSelector('#drafts a[href="/benchmark/new"]');

    await page.click('#new-benchmark');
    await page.waitForSelector('#wizard:not([hidden])');
    await page.fill('#name', 'Supplier invoices, April');
    await page.setInputFiles('#files', [demo + 'invoice-1.png', demo + 'invoice-2.png', join(files, 'notes.txt')]);
    assert.match(await page.textContent('#refused'), /notes\.txt: not a document we can read/);
    await page.waitForSelector('#image-1');
    await page.waitForFunction(() => /draft=[0-9a-f-]{36}/.test(location.search));
    const draftUrl = page.url();
    await shot(page, '2-documents');

    // A typo is shown where it is, then fixed.
    const first = JSON.stringify(truths[0], null, 2);
    await page.fill('#expected-0', first.replace('"vendor"', '"vendor" "x"'));
    assert.match(await page.textContent('#expected-0-note'), /^Line 4, column 12: expected : after the key\.$/);
    assert.equal(await page.getAttribute('#expected-0', 'aria-invalid'), 'true');
    await shot(page, '3-typo');
    await page.fill('#expected-0', first);
    assert.equal(await page.textContent('#expected-0-note'), '10 fields.');
    await page.click('#copy-structure');
    assert.match(await page.inputValue('#expected-1'), /"invoice_number": ""/);
    await page.fill('#expected-1', JSON.stringify(truths[1], null, 2));

    // The inferred schema, edited: the invoice number ignores case, the
    // line items keep their order.
    assert.match(await page.inputValue('#schema'), /"format": "date"/);
    const row = (path) => page.locator('#fields tbody tr', { has: page.locator(`code:text-is("${path}")`) });
    await row('invoice_number').locator('select[data-set="compare"]').selectOption('case-insensitive');
    await row('items').locator('input[data-set="ordered"]').check();
    const schema = JSON.parse(await page.inputValue('#schema'));
    assert.equal(schema.properties.invoice_number['x-compare'], 'case-insensitive');
    assert.equal(schema.properties.items['x-ordered'], true);
    assert.match(await page.inputValue('#prompt'), /items: a list, in the order shown/);
    await accessible(page, 'the wizard with documents, expected JSON and schema');
    await shot(page, '4-expected-and-schema');

    for (const model of ['openai/gpt-4o-mini', 'google/gemini-2.0-flash-001', 'mistralai/pixtral-12b']) {
      await page.check(`#models input[value="${model}"]`);
    }
    await page.waitForFunction(() => /^6 model calls, at most \$\d+\.\d\d/.test(document.querySelector('#estimate').textContent));
    await page.waitForSelector('#pay:not([disabled])');
    await page.waitForFunction(() => document.querySelector('#save-status').textContent === 'All changes saved.');
    assert.match(await page.textContent('#summary'), /^2 documents, 17 expected fields, 3 models, 6 calls/);
    await accessible(page, 'the wizard ready to pay');
    await shot(page, '5-models-and-review');

    // Everything is where it was after a reload.
    await page.goto(draftUrl);
    await page.waitForSelector('#wizard:not([hidden])');
    assert.equal(await page.inputValue('#name'), 'Supplier invoices, April');
    assert.deepEqual(JSON.parse(await page.inputValue('#expected-1')), truths[1]);
    assert.equal(await page.locator('#models input:checked').count(), 3);
    assert.equal(JSON.parse(await page.inputValue('#schema')).properties.items['x-ordered'], true);

    await page.waitForSelector('#pay:not([disabled])');
    await page.click('#pay');
    await page.waitForSelector('#product');
    assert.match(await page.textContent('#amount'), /14\.99 USD/);
    await shot(page, '6-checkout');
    await page.click('#pay');
    await page.waitForURL(/\/benchmark\/[0-9a-f-]+\/processing/);
    await shot(page, '7-processing');
    await page.waitForURL(/\/report\//, { timeout: 150_000 });
    await page.waitForSelector('#ranking tbody tr');
    assert.equal(await page.locator('#ranking tbody tr').count(), 3);
    await shot(page, '8-report');

    // On a phone the wizard fits the screen.
    const phone = await (await browser.newContext({ viewport: { width: 375, height: 800 } })).newPage();
    await phone.goto(`${site}/sign-in`);
    await phone.fill('#email', email);
    await phone.fill('#password', 'a-good-password');
    await phone.click('#submit');
    await phone.waitForURL(`${site}/`);
    await phone.goto(`${site}/benchmark/new`);
    await phone.waitForSelector('#wizard:not([hidden])');
    assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth <= 375), 'no sideways scrolling at 375 px');
    await shot(phone, '9-phone');
  } finally {
    await browser.close();
  }
});
