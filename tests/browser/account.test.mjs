// A customer's own account, in Chromium: "Download my data" saves one JSON
// file of everything kept; "Delete my account" deletes the drafts, images
// and the account (signing in fails afterwards), and says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { createClient } from '@supabase/supabase-js';
import ws from 'ws';
import { launch, site, signIn } from './browser.mjs';

const supabaseUrl = process.env.SUPABASE_URL || 'http://127.0.0.1:54321';
const demo = new URL('../../devstack/fixtures/demo/', import.meta.url).pathname;
const PASSWORD = 'account-test-password';

async function customer() {
  const anon = (await (await fetch(`${site}/config.json`)).json()).supabaseAnonKey;
  const client = createClient(supabaseUrl, anon, { auth: { persistSession: false }, realtime: { transport: ws } });
  const email = `account-${Date.now()}-${Math.floor(Math.random() * 1e6)}@modelpick.local`;
  const { data: signedUp, error } = await client.auth.signUp({ email, password: PASSWORD });
  assert.equal(error, null);
  const user = signedUp.user.id;
  const path = `${user}/contracts/invoice-1.png`;
  const upload = await client.storage.from('benchmark-images')
    .upload(path, new Blob([readFileSync(demo + 'invoice-1.png')], { type: 'image/png' }), { contentType: 'image/png' });
  assert.equal(upload.error, null);
  const { error: insert } = await client.from('benchmark_drafts').insert({
    config_data: { name: 'Private contracts' },
    upload_data: { images: [{ path, name: 'invoice-1.png', width: 1240, height: 1754, expected: { total: '1' } }] },
    schema_data: { prompt: 'Read it.' },
    selected_models: ['openai/gpt-4o-mini'],
    status: 'draft',
  });
  assert.equal(insert, null);
  return { email, user, path, client };
}

test('download my data, then delete my account', { timeout: 120_000 }, async () => {
  const { email, user, path, client } = await customer();
  const browser = await launch();
  try {
    const page = await (await browser.newContext({ acceptDownloads: true })).newPage();
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await signIn(page, email, PASSWORD);
    await page.waitForSelector('#drafts a');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-account')]);
    assert.match(download.suggestedFilename(), /^modelpick-export-\d{4}-\d{2}-\d{2}\.json$/);
    const exported = JSON.parse(readFileSync(await download.path(), 'utf8'));
    assert.equal(exported.account.email, email);
    assert.equal(exported.drafts[0].config_data.name, 'Private contracts');
    assert.deepEqual(exported.images.map((i) => i.path), [path]);
    await page.waitForFunction(() => document.querySelector('#account-status').textContent === 'Your data is downloaded.');
    assert.deepEqual(errors, [], 'no error while exporting');

    page.once('dialog', (dialog) => dialog.accept());
    await Promise.all([page.waitForURL(`${site}/sign-in?deleted=1`), page.click('#delete-account')]);
    assert.equal(await page.isVisible('#deleted'), true, 'the sign-in page says the account is deleted');

    await page.fill('#email', email);
    await page.fill('#password', PASSWORD);
    await page.click('#submit');
    await page.waitForFunction(() => document.querySelector('#error').textContent !== '');
    assert.equal(await page.textContent('#error'), 'That email and password do not match.', 'signing in fails');
    const again = await client.auth.signInWithPassword({ email, password: PASSWORD });
    assert.notEqual(again.error, null, 'Auth no longer knows the account');
    const left = await promisify(execFile)('psql', [process.env.DATABASE_URL, '-XAtc',
      `select (select count(*) from storage.objects where name like '${user}/%')
              || ' ' || (select count(*) from public.benchmark_drafts where user_id = '${user}')
              || ' ' || (select count(*) from auth.users where id = '${user}')`]);
    assert.equal(left.stdout.trim(), '0 0 0', 'no image, draft or account of theirs is left');
    // After the deletion Auth refuses the old session's sign-out (403) and
    // the password (400), as it should; nothing else goes wrong.
    assert.deepEqual(errors.filter((e) => !/status of 40[03]/.test(e)), []);
  } finally {
    await browser.close();
  }
});
