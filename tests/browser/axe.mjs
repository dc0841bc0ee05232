// Accessibility and phone checks shared by the browser tests: axe-core's
// WCAG 2.0/2.1 A and AA rules on the page as it is, and no sideways
// scrolling on a phone-sized screen.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export async function accessible(page, name) {
  // Evaluated through the browser's debugging protocol: the pages' Content
  // Security Policy runs no inline script, and the test does not loosen it.
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(' | ')}`);
  });
  assert.deepEqual(violations, [], `${name}: axe found\n${violations.join('\n')}`);
}

export async function fitsThePhone(page, name) {
  const widths = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(widths[0] <= widths[1], `${name}: the page is ${widths[0]} px wide on a ${widths[1]} px screen`);
}
