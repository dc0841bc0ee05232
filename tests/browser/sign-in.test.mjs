// After signing in, the `next=` link leads to a page of this site and never
// to another one, however it is spelled (real headless Chromium, which
// reads backslashes and tabs in URLs the way browsers do).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const site = process.env.SITE_URL || 'http://127.0.0.1:8787';

const launch = () => chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});

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
                        'https%3A%2F%2Fevil.com%2F', 'javascript%3Aalert(1)', '%5C%5Cevil.com']) {
      assert.equal(await landsOn(page, next), `${site}/`, `next=${next} lands on the dashboard`);
    }
    assert.equal(await landsOn(page, encodeURIComponent('/benchmark/new?draft=abc#models')),
      `${site}/benchmark/new?draft=abc#models`, 'a page of this site is kept, with its query and fragment');
  } finally {
    await browser.close();
  }
});
