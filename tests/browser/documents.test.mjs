// Real documents in a real browser: a PDF becomes one document of its pages,
// drawn by PDF.js in the page (the server never parses a PDF); a PDF with a
// password, a broken one and one over the page limit are refused with their
// sentences before anything is uploaded; the report runs each document's
// pages in order in one call per model, at no more than 2,000 px, and shows
// them. Test PDFs are made here with pdf-lib from the demo invoices, and
// encrypted with qpdf. Screenshots: target/screenshots/documents-*.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PDFDocument } from 'pdf-lib';
import { launch } from './browser.mjs';

const site = process.env.SITE_URL || 'http://127.0.0.1:8787';
const providerUrl = process.env.PROVIDER_URL || 'http://127.0.0.1:12112';
const shots = new URL('../../target/screenshots/', import.meta.url).pathname;
const demo = new URL('../../devstack/fixtures/demo/', import.meta.url).pathname;
mkdirSync(shots, { recursive: true });
const shot = (page, name) => page.screenshot({ path: `${shots}documents-${name}.png`, fullPage: true });

// A PDF of the demo invoices, one per page, each page the image's size in
// points; or `blank` empty A4 pages.
async function pdf({ invoices = [], blank = 0 }) {
  const doc = await PDFDocument.create();
  for (const name of invoices) {
    const png = await doc.embedPng(readFileSync(demo + name));
    doc.addPage([png.width, png.height]).drawImage(png, { x: 0, y: 0, width: png.width, height: png.height });
  }
  for (let i = 0; i < blank; i += 1) doc.addPage([595, 842]);
  return Buffer.from(await doc.save());
}

// A new account's empty wizard.
async function newBenchmark(page, who) {
  await page.goto(`${site}/sign-up`);
  await page.fill('#email', `${who}-${Date.now()}@example.com`);
  await page.fill('#password', 'a-good-password');
  await page.fill('#confirm', 'a-good-password');
  await page.click('#submit');
  await page.waitForURL(`${site}/`);
  await page.goto(`${site}/benchmark/new`);
  await page.waitForSelector('#wizard:not([hidden])');
}

test('a PDF becomes one document of its pages, read in order in one call per model', { timeout: 240_000 }, async () => {
  const files = mkdtempSync(join(tmpdir(), 'documents-'));
  writeFileSync(join(files, 'three-invoices.pdf'), await pdf({ invoices: ['invoice-1.png', 'invoice-2.png', 'invoice-3.png'] }));
  writeFileSync(join(files, 'too-long.pdf'), await pdf({ blank: 21 }));
  writeFileSync(join(files, 'broken.pdf'), '%PDF-1.7\nthis is not really a PDF\n%%EOF\n');
  execFileSync('qpdf', ['--encrypt', 'user-secret', 'owner-secret', '256', '--', join(files, 'three-invoices.pdf'), join(files, 'locked.pdf')]);

  const browser = await launch();
  try {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    const errors = [];
    page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
    await newBenchmark(page, 'pdf');
    await page.fill('#name', 'Invoices as one PDF');

    // Refused, each with its sentence, and nothing stored.
    await page.setInputFiles('#files', [join(files, 'locked.pdf'), join(files, 'broken.pdf'), join(files, 'too-long.pdf')]);
    await page.waitForFunction(() => document.querySelectorAll('#uploads li .error').length === 3, null, { timeout: 30_000 });
    const refusals = await page.locator('#uploads li .error').allTextContents();
    assert.ok(refusals.some((t) => /protected by a password/.test(t)), refusals.join(' | '));
    assert.ok(refusals.some((t) => /could not be read as a PDF/.test(t)), refusals.join(' | '));
    assert.ok(refusals.some((t) => /has 21 pages; a document may have at most 20/.test(t)), refusals.join(' | '));
    await shot(page, '1-refused');

    await page.setInputFiles('#files', [join(files, 'three-invoices.pdf')]);
    await page.waitForSelector('#uploads li.done .pages', { timeout: 60_000 });
    assert.match(await page.textContent('#uploads li.done'), /three-invoices\.pdf · 3 pages/);
    assert.equal(await page.locator('#uploads li.done .thumbnails img').count(), 3);
    await page.waitForFunction(() => document.querySelector('#save-status').textContent === 'All changes saved.');
    await shot(page, '2-three-pages');

    // A page added (the back of a receipt), moved, then removed again.
    const pageNames = () => page.locator('#uploads li.done .thumbnails img').evaluateAll((imgs) => imgs.map((img) => img.getAttribute('src').split('?')[0]));
    const firstThree = await pageNames();
    await page.setInputFiles('#uploads li.done input[data-add-page="0"]', demo + 'invoice-1.png');
    await page.waitForFunction(() => /4 pages/.test(document.querySelector('#uploads li.done').textContent));
    await page.waitForFunction(() => document.querySelector('#save-status').textContent === 'All changes saved.');
    const added = await page.locator('#uploads li.done .thumbnails img').nth(3).getAttribute('src');
    await page.click('#uploads li.done button[data-earlier="0:3"]');
    await page.waitForFunction((src) => document.querySelectorAll('#uploads li.done .thumbnails img')[2]?.getAttribute('src').split('?')[0] === src.split('?')[0], added);
    await shot(page, '3-page-added-and-moved');
    await page.click('#uploads li.done button[data-remove-page="0:2"]');
    await page.waitForFunction(() => /3 pages/.test(document.querySelector('#uploads li.done').textContent));
    await page.waitForFunction(() => document.querySelector('#save-status').textContent === 'All changes saved.');
    assert.deepEqual(await pageNames(), firstThree, 'the PDF\'s pages, in their order again');

    // What was saved: one document of three pages, in the owner's folder,
    // no larger than what every model is sent; nothing of the refused ones.
    const saved = await page.evaluate(async () => {
      const supabase = await App.client();
      const draftId = new URLSearchParams(location.search).get('draft');
      const { data } = await supabase.from('benchmark_drafts').select('upload_data').eq('id', draftId).single();
      const user = (await App.session()).user.id;
      const { data: stored } = await supabase.storage.from('benchmark-images').list(`${user}/${draftId}`);
      return { documents: data.upload_data.images, stored: stored.map((o) => o.name), user, draftId };
    });
    assert.equal(saved.documents.length, 1);
    const [document] = saved.documents;
    assert.equal(document.pages.length, 3);
    assert.equal(document.path, document.pages[0].path);
    for (const p of document.pages) {
      assert.ok(p.path.startsWith(`${saved.user}/${saved.draftId}/`), p.path);
      assert.equal(Math.max(p.width, p.height), 2000, `drawn at the size every model is sent: ${p.width} x ${p.height}`);
    }
    assert.equal(saved.stored.length, 3, `only the three pages are stored: ${saved.stored}`);

    await page.fill('#expected-0', JSON.stringify({ invoice_number: 'INV-1', total: 1 }, null, 2));
    for (const model of ['openai/gpt-4o-mini', 'google/gemini-2.0-flash-001']) await page.check(`#models input[value="${model}"]`);
    await page.waitForSelector('#pay:not([disabled])');
    await page.waitForFunction(() => document.querySelector('#save-status').textContent === 'All changes saved.');
    await page.click('#pay');
    await page.waitForSelector('#product');
    await page.click('#pay');
    await page.waitForURL(/\/report\//, { timeout: 150_000 });
    await page.waitForSelector('#ranking tbody tr');
    // The documents part is drawn once its images are signed.
    await page.waitForFunction(() => /three-invoices\.pdf \(3 pages\)/.test(document.querySelector('#diffs').textContent));
    await page.locator('#diffs details summary').first().click();
    await page.waitForFunction(() => document.querySelectorAll('#diffs img.document-image').length === 3);
    assert.match(await page.textContent('#run-meta'), /at most 2,000 px on its long edge/);
    await shot(page, '4-report');

    // Each call carried the document's three pages, in page order.
    const shas = await page.evaluate(async (paths) => {
      const supabase = await App.client();
      const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
      const out = [];
      for (const path of paths) {
        const { data } = await supabase.storage.from('benchmark-images').download(path);
        out.push(hex(await crypto.subtle.digest('SHA-256', await data.arrayBuffer())));
      }
      return out;
    }, document.pages.map((p) => p.path));
    const calls = (await (await fetch(`${providerUrl}/_devstack/calls`)).json())
      .filter((call) => call.images?.[0]?.sha256 === shas[0]);
    // The stand-in logs every attempt: a retried one appears twice.
    const answered = calls.filter((call) => call.status === 200);
    assert.equal(answered.length, 2, 'one answered call per model');
    assert.equal(new Set(answered.map((call) => call.model)).size, 2);
    for (const call of calls) {
      assert.deepEqual(call.images.map((i) => i.sha256), shas);
      assert.ok(call.images.every((i) => Math.max(i.width, i.height) <= 2000 && i.bytes <= 4 * 1048576));
      assert.equal(call.provider.data_collection, 'deny');
    }
    assert.deepEqual(errors.filter((e) => /Content Security Policy|Refused to/.test(e)), [], 'PDF.js runs under the CSP');
  } finally {
    await browser.close();
  }
});

// A figure, not a bound: how long the browser takes to draw and upload a
// PDF of the most pages a document may have.
test('a 20-page PDF is drawn and uploaded in the browser (figure)', { timeout: 240_000 }, async (t) => {
  const files = mkdtempSync(join(tmpdir(), 'documents-'));
  const invoices = Array.from({ length: 20 }, (_, i) => `invoice-${(i % 3) + 1}.png`);
  writeFileSync(join(files, 'twenty-pages.pdf'), await pdf({ invoices }));
  const browser = await launch();
  try {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await newBenchmark(page, 'pdf20');
    const started = Date.now();
    await page.setInputFiles('#files', [join(files, 'twenty-pages.pdf')]);
    await page.waitForFunction(() => /20 pages/.test(document.querySelector('#uploads li.done')?.textContent || ''), null, { timeout: 180_000 });
    await page.waitForFunction(() => document.querySelector('#save-status').textContent === 'All changes saved.');
    t.diagnostic(`rendering and uploading a 20-page PDF in Chromium: ${((Date.now() - started) / 1000).toFixed(1)} s (pages at 2,000 px, PNG)`);
  } finally {
    await browser.close();
  }
});
