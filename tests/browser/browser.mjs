// What the browser tests share: Debian's Chromium, started the same way,
// the site under test, and signing in as a person does.
import { chromium } from 'playwright-core';

export const site = process.env.SITE_URL || 'http://127.0.0.1:8787';

export const launch = () => chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});

export async function signIn(page, email, password) {
  await page.goto(`${site}/sign-in`);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('#submit');
  await page.waitForURL(`${site}/`);
}
