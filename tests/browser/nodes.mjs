// The overview's table of nodes in a real browser (Debian's chromium, headless, through
// playwright-core), against two Portcullis nodes on one PostgreSQL ledger. Run by
// tests/integration/test_postgres_nodes.py with, in the environment:
//   CONSOLE_URL     node A's admin listener, http://127.0.0.1:<port>
//   ADMIN_TOKEN     the admin token to sign in with
//   EXPECT_STATES   JSON {node name: state} the table must come to show (it polls)
//   SCREENSHOT      the PNG of the overview to write
// Prints "ok" or "FAIL <why>"; exits 1 on failure.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const BASE = env('CONSOLE_URL');
const TOKEN = env('ADMIN_TOKEN');
const EXPECT = JSON.parse(env('EXPECT_STATES'));
const SHOT = env('SCREENSHOT');
mkdirSync(dirname(SHOT), { recursive: true });

const overall = setTimeout(() => {
  console.log('FAIL the browser took longer than 60 s');
  process.exit(1);
}, 60_000);

// --no-sandbox only because CI runs as root, where chromium's sandbox refuses to start.
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
let failed = false;
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 1000 } })).newPage();
  page.setDefaultTimeout(20_000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(BASE + '/signin?next=/');
  await page.fill('#token', TOKEN);
  await page.click('button[type=submit]');
  await page.waitForURL(BASE + '/');
  const table = page.locator('table.nodes');
  // The page polls: each expected state shows up in its node's row without a reload.
  for (const [name, state] of Object.entries(EXPECT)) {
    await table.locator('tr', { hasText: name }).locator(`td.health-${state}`).waitFor();
  }
  const rows = await table.locator('tbody tr').count();
  if (rows !== Object.keys(EXPECT).length) throw new Error(`${rows} rows, expected ${Object.keys(EXPECT).length}`);
  if (errors.length) throw new Error('script errors: ' + errors.join('; '));
  await page.screenshot({ path: SHOT, fullPage: true });
  console.log('ok');
} catch (e) {
  failed = true;
  console.log(`FAIL ${e.stack || e}`);
} finally {
  await browser.close();
  clearTimeout(overall);
}
process.exit(failed ? 1 : 0);
