// The account forms when the server cannot be reached: each says so in the
// same words, keeps what was typed, and lets the person try again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, site } from './browser.mjs';

const NOT_ANSWERING = 'The server is not answering. Check your connection and try again.';

const FORMS = [
  { page: '/sign-in', fill: { '#email': 'someone@example.test', '#password': 'a long password' } },
  { page: '/sign-up', fill: { '#email': 'someone@example.test', '#password': 'a long password', '#confirm': 'a long password' } },
  { page: '/forgot-password', fill: { '#email': 'someone@example.test' } },
];

test('every account form says the server is not answering, and can be sent again', { timeout: 120_000 }, async () => {
  const browser = await launch();
  try {
    for (const form of FORMS) {
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${site}${form.page}`);
      await page.waitForFunction(() => !document.querySelector('#submit').disabled);
      // Pages load; then the network goes: the auth API cannot be reached.
      await page.route('**/auth/v1/**', (route) => route.abort('internetdisconnected'));
      for (const [field, value] of Object.entries(form.fill)) await page.fill(field, value);
      await page.click('#submit');
      await page.waitForFunction(() => document.querySelector('#error').textContent.trim() !== '');
      assert.equal((await page.textContent('#error')).trim(), NOT_ANSWERING, form.page);
      assert.equal(await page.isEnabled('#submit'), true, `${form.page} can be sent again`);
      assert.equal(await page.inputValue('#email'), 'someone@example.test', `${form.page} keeps what was typed`);
      await page.context().close();
    }
  } finally {
    await browser.close();
  }
});
