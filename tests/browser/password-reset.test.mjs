// A forgotten password, in Chromium: "Forgot your password?" on the sign-in
// page, the link Auth mails (read from the local Resend's outbox), a new
// password chosen on the page the link opens, the old one refused after,
// and the link refused when opened a second time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '@supabase/supabase-js';
import ws from 'ws';
import { launch, site, signIn } from './browser.mjs';
import { accessible } from './axe.mjs';

const supabaseUrl = process.env.SUPABASE_URL || 'http://127.0.0.1:54321';
const resendUrl = process.env.RESEND_BASE_URL || 'http://127.0.0.1:12113';

async function client() {
  const anon = (await (await fetch(`${site}/config.json`)).json()).supabaseAnonKey;
  return createClient(supabaseUrl, anon, { auth: { persistSession: false }, realtime: { transport: ws } });
}

async function mailsTo(email) {
  const sent = await (await fetch(`${resendUrl}/_devstack/emails`)).json();
  return sent.filter((mail) => mail.to.includes(email));
}

test('a forgotten password is reset from the emailed link, once', { timeout: 120_000 }, async () => {
  const email = `forgetful-${Date.now()}-${Math.floor(Math.random() * 1e6)}@modelpick.local`;
  const supabase = await client();
  assert.equal((await supabase.auth.signUp({ email, password: 'first-password-1' })).error, null);
  const browser = await launch();
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

    await page.goto(`${site}/sign-in`);
    await Promise.all([page.waitForURL(`${site}/forgot-password`), page.click('a[href="/forgot-password"]')]);
    await accessible(page, 'forgot-password');
    await page.fill('#email', email);
    await page.click('#submit');
    await page.waitForSelector('#sent:not([hidden])');
    assert.match(await page.textContent('#sent'), /works once, for one hour/);
    const [mail] = await mailsTo(email);
    assert.ok(mail, 'Auth mailed the address');
    const link = /href="([^"]+)"/.exec(mail.html)[1].replaceAll('&amp;', '&');
    assert.equal(new URL(new URL(link).searchParams.get('redirect_to')).pathname, '/reset-password');

    await page.goto(link);
    await page.waitForSelector('#form:not([hidden])');
    assert.equal(await page.textContent('#account'), `For ${email}.`);
    assert.equal(new URL(page.url()).hash, '', 'the tokens leave the address bar');
    await accessible(page, 'reset-password');
    await page.fill('#password', 'second-password-2');
    await page.fill('#confirm', 'second-password-3');
    await page.click('#submit');
    assert.equal(await page.textContent('#error'), 'The two passwords are not the same.');
    await page.fill('#confirm', 'second-password-2');
    await page.click('#submit');
    await page.waitForSelector('#done:not([hidden])');

    assert.notEqual((await supabase.auth.signInWithPassword({ email, password: 'first-password-1' })).error, null,
      'the old password no longer signs in');
    const fresh = await browser.newPage();
    await signIn(fresh, email, 'second-password-2');
    await fresh.close();

    await page.goto(link);
    await page.waitForSelector('#invalid:not([hidden])');
    assert.equal(await page.isVisible('#form'), false, 'a spent link offers no form');
    assert.deepEqual(errors, [], 'no error on the way');
  } finally {
    await browser.close();
  }
});

test('asking for an address without an account says the same and mails nothing', { timeout: 60_000 }, async () => {
  const email = `nobody-${Date.now()}@modelpick.local`;
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.goto(`${site}/forgot-password`);
    await page.fill('#email', email);
    await page.click('#submit');
    await page.waitForSelector('#sent:not([hidden])');
    assert.match(await page.textContent('#sent'), new RegExp(`If ${email.replaceAll('.', '\\.')} has an account`));
    assert.deepEqual(await mailsTo(email), []);
  } finally {
    await browser.close();
  }
});
