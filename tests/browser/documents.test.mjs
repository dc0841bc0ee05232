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
import { deflateSync } from 'node:zlib';
import { PDFDocument, StandardFonts } from 'pdf-lib';
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

// A PNG of `width` x `height` plain pixels, padded with a text chunk to
// about `bytes` (a scan saved with a large comment).
function paddedPng(width, height, bytes) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (data) => {
    let c = 0xffffffff;
    for (const byte of data) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, 'latin1');
    data.copy(out, 8);
    out.writeUInt32BE(crc(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bits per sample
  header[9] = 0; // grey
  const rows = Buffer.alloc((width + 1) * height, 0xf0);
  for (let y = 0; y < height; y += 1) rows[y * (width + 1)] = 0;
  const pixels = chunk('IDAT', deflateSync(rows));
  const fixed = 8 + 25 + pixels.length + 12;
  const comment = Buffer.concat([Buffer.from('Comment\0', 'latin1'), Buffer.alloc(Math.max(0, bytes - fixed - 12 - 8), 0x61)]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header), chunk('tEXt', comment), pixels, chunk('IEND', Buffer.alloc(0)),
  ]);
}

// A JPEG as a phone held upright stores it: the sensor's landscape rows
// (drawn by the browser), with EXIF orientation 6 ("turn 90° clockwise").
async function phonePhoto(page, width, height) {
  const base64 = await page.evaluate(async ([w, h]) => {
    const canvas = new OffscreenCanvas(w, h);
    const g = canvas.getContext('2d');
    g.fillStyle = '#f0eee6';
    g.fillRect(0, 0, w, h);
    g.fillStyle = '#1e1e28';
    for (let x = 0; x < w; x += 360) g.fillRect(x, 0, 40, h);
    const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.85 });
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let text = '';
    for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(text);
  }, [width, height]);
  const jpeg = Buffer.from(base64, 'base64');
  const tiff = Buffer.from('4d4d002a000000080001011200030000000100060000000000000000', 'hex');
  const app1 = Buffer.concat([Buffer.from([0xff, 0xe1, 0, 0]), Buffer.from('Exif\0\0', 'latin1'), tiff]);
  app1.writeUInt16BE(app1.length - 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), app1, jpeg.subarray(2)]);
}

test('a phone photo of 9,000 x 12,000 px and a 10 MiB PNG reach every model upright within the limits', { timeout: 300_000 }, async () => {
  const browser = await launch();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors = [];
    page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
    await newBenchmark(page, 'photos');
    await page.fill('#name', 'Receipts from a phone');

    const photo = await phonePhoto(page, 12_000, 9_000);
    const scan = paddedPng(1240, 1754, 10 * 1048576 - 64 * 1024);
    assert.ok(photo.length > 4 * 1048576 || scan.length > 4 * 1048576);
    assert.ok(scan.length > 9.9 * 1048576 && scan.length <= 10 * 1048576, `${scan.length}`);
    await page.setInputFiles('#files', [
      { name: 'receipt.jpg', mimeType: 'image/jpeg', buffer: photo },
      { name: 'scan.png', mimeType: 'image/png', buffer: scan },
    ]);
    await page.waitForFunction(() => document.querySelectorAll('#uploads li.done').length === 2, null, { timeout: 120_000 });
    await page.fill('#expected-0', JSON.stringify({ total: 12.5 }, null, 2));
    await page.fill('#expected-1', JSON.stringify({ total: 7 }, null, 2));
    for (const model of ['openai/gpt-4o-mini', 'google/gemini-2.0-flash-001']) await page.check(`#models input[value="${model}"]`);
    await page.waitForSelector('#pay:not([disabled])');
    await page.waitForFunction(() => document.querySelector('#save-status').textContent === 'All changes saved.');
    const before = (await (await fetch(`${providerUrl}/_devstack/calls`)).json()).length;
    await page.click('#pay');
    await page.waitForSelector('#product');
    await page.click('#pay');
    await page.waitForURL(/\/report\//, { timeout: 200_000 });
    await page.waitForSelector('#ranking tbody tr');
    assert.match(await page.textContent('#run-meta'), /at most 2,000 px on its long edge/);
    await shot(page, '5-photos-report');

    const calls = (await (await fetch(`${providerUrl}/_devstack/calls`)).json()).slice(before)
      .filter((call) => call.status === 200 && call.images?.length === 1);
    const sent = (mediaType) => calls.filter((call) => call.images[0].media_type === mediaType).map((call) => call.images[0]);
    const photos = sent('image/jpeg');
    const scans = sent('image/png');
    assert.equal(photos.length, 2, 'each model read the photo once');
    assert.equal(scans.length, 2, 'each model read the scan once');
    assert.deepEqual([photos[0].width, photos[0].height], [1500, 2000], 'upright (portrait), 2,000 px on its long edge');
    assert.deepEqual([scans[0].width, scans[0].height], [1240, 1754], 'already small enough: not scaled');
    for (const image of [...photos, ...scans]) assert.ok(image.bytes <= 4 * 1048576, `${image.bytes} bytes`);
    assert.ok(scans[0].bytes < 1048576, 'the padding is not sent');
    assert.equal(photos[0].sha256, photos[1].sha256, 'every model gets the same bytes');
    assert.equal(scans[0].sha256, scans[1].sha256);
    assert.deepEqual(errors.filter((e) => /Content Security Policy|Refused to/.test(e)), []);
  } finally {
    await browser.close();
  }
});

test('a PDF that names Helvetica without embedding it is drawn with PDF.js\'s own fonts, under the CSP', { timeout: 120_000 }, async () => {
  const doc = await PDFDocument.create();
  const helvetica = await doc.embedFont(StandardFonts.Helvetica);
  doc.addPage([595, 842]).drawText('Invoice INV-7   Total 96.00', { x: 60, y: 760, size: 24, font: helvetica });
  const files = mkdtempSync(join(tmpdir(), 'documents-'));
  writeFileSync(join(files, 'typed.pdf'), Buffer.from(await doc.save()));
  const browser = await launch();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors = [];
    const fonts = [];
    page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
    context.on('request', (request) => { if (request.url().includes('/assets/vendor/pdfjs/')) fonts.push(request.url()); });
    await newBenchmark(page, 'typed-pdf');
    await page.setInputFiles('#files', [join(files, 'typed.pdf')]);
    await page.waitForSelector('#uploads li.done', { timeout: 60_000 });
    await page.waitForFunction(() => document.querySelector('#save-status').textContent === 'All changes saved.');
    // The stored page has ink where the text is: the font was drawn.
    const ink = await page.evaluate(async () => {
      const supabase = await App.client();
      const draftId = new URLSearchParams(location.search).get('draft');
      const { data: draft } = await supabase.from('benchmark_drafts').select('upload_data').eq('id', draftId).single();
      const { data } = await supabase.storage.from('benchmark-images').download(draft.upload_data.images[0].pages[0].path);
      const bitmap = await createImageBitmap(data);
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const g = canvas.getContext('2d');
      g.drawImage(bitmap, 0, 0);
      const band = g.getImageData(0, 0, canvas.width, Math.round(canvas.height / 8)).data;
      let dark = 0;
      for (let i = 0; i < band.length; i += 4) if (band[i] < 128) dark += 1;
      return dark;
    });
    assert.ok(ink > 1000, `dark pixels in the text's band: ${ink}`);
    assert.ok(fonts.some((url) => /standard_fonts\/(FoxitSans|LiberationSans)/.test(url)), `fetched: ${fonts.join(', ')}`);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
