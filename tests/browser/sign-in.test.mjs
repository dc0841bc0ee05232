// After signing in, the `next=` link leads to a page of this site and never
// to another one, however it is spelled (real headless Chromium, which
// reads backslashes and tabs in URLs the way browsers do).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from './browser.mjs';
import { accessible, fitsThePhone } from './axe.mjs';

const site = process.env.SITE_URL || 'http://127.0.0.1:8787';


async function landsOn(page, next) {
  await page.goto(`${site}/sign-in?next=${next}`);
  await page.fill('#email', 'demo@modelpick.local');
  await page.fill('#password', 'modelpick-demo');
  await Promise.all([page.waitForURL((url) => !url.pathname.startsWith('/sign-in')), page.click('#submit')]);
  return page.url();
}

test('the next= link after sign-in stays on this site', { timeout: 120_000 }, async () => {
  const browser = await launch();
  try {
    const page = await (await browser.newContext()).newPage();
    for (const next of ['%2F%5Cevil.com', '%2F%09%2Fevil.com', '%2F%2Fevil.com', 'https%3Aevil.com',
                        'https%3A%2F%2Fevil.com%2F', 'javascript%3Aalert(1)', '%5C%5Cevil.com',
                        '%09javascript%3Aalert(1)', 'java%09script%3Aalert(1)', '%2F%5C%09evil.com',
                        '%5C%2Fevil.com', 'data%3Atext%2Fhtml%2C%3Cscript%3Ealert(1)%3C%2Fscript%3E']) {
      assert.equal(await landsOn(page, next), `${site}/`, `next=${next} lands on the dashboard`);
    }
    // Dot segments that collapse a same-origin path into "//host" once the
    // URL is built: the browser must stay on this site whatever page it is.
    for (const next of ['%2F.%2F%2Fevil.example%2Fphish', '%2F%252e%2F%2Fevil.example', '%2Fx%2F..%2F%2Fevil.example',
                        '%2F.%2F%5Cevil.example', '%2F%252E%252E%2F%2Fevil.example', '%2F.%2F%09%2Fevil.example']) {
      const landed = new URL(await landsOn(page, next));
      assert.equal(landed.origin, new URL(site).origin, `next=${next} stays on this site (landed on ${landed.href})`);
    }
    assert.equal(await landsOn(page, encodeURIComponent('/benchmark/new?draft=abc#models')),
      `${site}/benchmark/new?draft=abc#models`, 'a page of this site is kept, with its query and fragment');
  } finally {
    await browser.close();
  }
});

test('signing in by keyboard: a wrong password is said at the fields, and focus stays in the form', { timeout: 60_000 }, async () => {
  const browser = await launch();
  try {
    for (const width of [1280, 375]) {
      const page = await (await browser.newContext({ viewport: { width, height: 800 } })).newPage();
      await page.goto(`${site}/sign-in`);
      assert.equal(await page.isHidden('#sign-out'), true, 'no "Sign out" for a visitor');
      await accessible(page, `sign-in at ${width} px`);
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
      await page.focus('#email');
      await page.keyboard.type('demo@modelpick.local');
      await page.keyboard.press('Tab');
      await page.keyboard.type('not-the-password');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => document.querySelector('#error').textContent.length > 0);
      assert.equal(await page.textContent('#error'), 'That email and password do not match.');
      assert.equal(await page.getAttribute('#password', 'aria-invalid'), 'true');
      assert.equal(await page.getAttribute('#password', 'aria-describedby'), 'error');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'email', 'focus stays in the form');
      await accessible(page, `sign-in error at ${width} px`);
      if (width === 375) await fitsThePhone(page, 'sign-in');
      await page.screenshot({ path: new URL(`../../target/screenshots/sign-in-error-${width}.png`, import.meta.url).pathname, fullPage: true });
      await page.goto(`${site}/sign-up`);
      await accessible(page, `sign-up at ${width} px`);
    }
  } finally {
    await browser.close();
  }
});
