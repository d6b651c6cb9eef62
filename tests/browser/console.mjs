// The console in a real browser: Debian's chromium, headless, driven by playwright-core.
// Run by tests/integration/test_console.py, which starts Portcullis with real peers
// (eapol_test, radclient, a NAS stand-in answering Disconnect-ACK) and passes, in the
// environment:
//   CONSOLE_URL      the admin listener, http://127.0.0.1:<port>
//   OTHER_ORIGIN_URL a page of another origin on the same site (the public listener)
//   ADMIN_TOKEN      the admin token to sign in with
//   LIVE_DEVICE      a device with one live session (accounting Start seen)
//   PHONE_DEVICE     another, whose session (SSID corp-wifi) is ended from the Sessions page
//   FOREIGN_DEVICE   a device whose MAC was then rejected for a certificate from another CA
//   XSS_DEVICE       a device named with HTML
//   HTML_USER_NAME   the HTML User-Name of that rejected authentication
//   APPROVE_DEVICE   a device whose SCEP request is held (PENDING) while its client polls
//   REJECT_DEVICE    a second such device: its client enrolls only once this script prints
//   APPROVALS_OPEN   this line, with the Approvals page open (so its row comes by polling)
//   HELD_PROFILE     the profile both requests enroll into
//   SCREENSHOT_DIR   where a PNG of every page goes
// Prints one line per case and "N passed, N failed"; exits 1 when any failed.
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const BASE = env('CONSOLE_URL');
const OTHER = env('OTHER_ORIGIN_URL');
const TOKEN = env('ADMIN_TOKEN');
const LIVE = env('LIVE_DEVICE');
const PHONE = env('PHONE_DEVICE');
const FOREIGN = env('FOREIGN_DEVICE');
const XSS = env('XSS_DEVICE');
const HTML_USER = env('HTML_USER_NAME');
const APPROVE = env('APPROVE_DEVICE');
const REJECT = env('REJECT_DEVICE');
const APPROVALS_OPEN = env('APPROVALS_OPEN');
const HELD_PROFILE = env('HELD_PROFILE');
const SHOTS = env('SCREENSHOT_DIR');
const PAGES = ['/', '/devices', '/sessions', '/events', '/certificates', '/policy', '/approvals', '/nas'];
const devicePath = (name) => '/devices/' + encodeURIComponent(name);

mkdirSync(SHOTS, { recursive: true });
const results = [];
const dialogs = [];
const pageErrors = [];  // script errors and CSP violations: none expected

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function step(name, body) {
  const started = Date.now();
  try {
    await body();
    results.push([name, true]);
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.push([name, false]);
    console.log(`FAIL ${name}: ${e.stack || e}`);
  }
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, name + '.png'), fullPage: true });
}

// The element that has focus is inside the open <dialog>.
const focusInDialog = (page) => page.evaluate(() => !!document.activeElement?.closest('dialog[open]'));

// Every run of the browser is bounded: CI must not hang on it.
const overall = setTimeout(() => {
  console.log('FAIL the browser test took longer than 150 s');
  process.exit(1);
}, 150_000);

// --no-sandbox only because CI runs as root, where chromium's sandbox refuses to start.
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  // Script errors and failed requests go to the test's output.
  page.on('pageerror', (e) => {
    pageErrors.push(e.message);
    console.log(`page error: ${e.message}`);
  });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    console.log(`console error: ${m.text()}`);
    if (m.text().includes('Content Security Policy')) pageErrors.push(m.text());
  });
  // An alert() from injected markup would show up here.
  page.on('dialog', async (d) => {
    dialogs.push(d.message());
    await d.dismiss();
  });

  await step('without the cookie every page redirects to sign-in and the API answers 401', async () => {
    for (const path of [...PAGES, devicePath(LIVE)]) {
      const r = await context.request.get(BASE + path, { maxRedirects: 0 });
      check(r.status() === 303, `${path}: ${r.status()}`);
      const location = r.headers()['location'];
      check(location === '/signin?next=' + encodeURIComponent(path).replace(/%2F/g, '/'), `${path}: Location ${location}`);
    }
    for (const path of ['/api/v1/devices', '/api/v1/sessions', '/api/v1/events']) {
      const r = await context.request.get(BASE + path);
      check(r.status() === 401, `${path}: ${r.status()}`);
    }
    await page.goto(BASE + '/devices');
    check(new URL(page.url()).pathname === '/signin', `landed on ${page.url()}`);
    await shot(page, 'signin');
  });

  await step('sign in with the admin token', async () => {
    await page.fill('#token', 'not-the-token');
    await page.click('button[type=submit]');
    await page.getByRole('alert').filter({ hasText: 'wrong admin token' }).waitFor();
    await page.fill('#token', TOKEN);
    await page.click('button[type=submit]');
    await page.waitForURL(BASE + '/devices');
    await page.getByRole('link', { name: LIVE }).waitFor();
    const cookies = await context.cookies(BASE);
    const session = cookies.find((c) => c.name === 'portcullis_session');
    check(session && session.httpOnly && session.sameSite === 'Strict', JSON.stringify(cookies));
    const headers = (await context.request.get(BASE + '/devices')).headers();
    check(headers['content-security-policy']?.includes("default-src 'self'"), 'no CSP on the page');
    check(headers['x-content-type-options'] === 'nosniff', 'no nosniff');
    check(headers['content-security-policy']?.includes("frame-ancestors 'none'"), 'framing allowed');
    await shot(page, 'devices');
  });

  await step('approvals: held SCEP requests are listed, polled in, approved and rejected', async () => {
    await page.goto(BASE + '/approvals');
    const rowOf = (device) => page.locator('tbody tr').filter({ has: page.locator('td:nth-child(2)', { hasText: device }) });
    const cells = async (device) => (await rowOf(device).locator('td').allTextContents()).slice(0, 4);
    await rowOf(APPROVE).waitFor();
    const [approveId, ...approveCells] = await cells(APPROVE);
    check(/^\d+$/.test(approveId), `request id "${approveId}"`);
    check(JSON.stringify(approveCells) === JSON.stringify([APPROVE, 'CN=' + APPROVE, HELD_PROFILE]),
          `row ${approveCells}`);
    // The second request is made only now: its row can come only from the page's polling,
    // and a marker on the window shows the document was not reloaded.
    await page.evaluate(() => { window.approvalsMarker = true; });
    console.log(APPROVALS_OPEN);
    await rowOf(REJECT).waitFor({ timeout: 20_000 });
    check(await page.evaluate(() => window.approvalsMarker === true), 'the page was reloaded');
    const [rejectId, ...rejectCells] = await cells(REJECT);
    check(JSON.stringify(rejectCells) === JSON.stringify([REJECT, 'CN=' + REJECT, HELD_PROFILE]), `row ${rejectCells}`);
    const transaction = (await rowOf(REJECT).locator('td').allTextContents())[4];
    check(transaction.trim().length > 0, 'no transaction id in the row');
    await shot(page, 'approvals-pending');

    await rowOf(APPROVE).getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('status').filter({ hasText: `Request ${approveId} for ${APPROVE} approved.` }).waitFor();
    await rowOf(APPROVE).waitFor({ state: 'detached' });
    const rejectButton = rowOf(REJECT).getByRole('button', { name: 'Reject' });
    check(await rejectButton.isDisabled(), 'Reject is enabled before a reason is typed');
    await rowOf(REJECT).getByLabel('Reason to reject ' + REJECT).fill('unknown printer');
    await rejectButton.click();
    await page.getByRole('status').filter({ hasText: `Request ${rejectId} for ${REJECT} rejected.` }).waitFor();
    await rowOf(REJECT).waitFor({ state: 'detached' });
    await page.getByText('Nothing is waiting.').waitFor();
    check(await page.evaluate(() => window.approvalsMarker === true), 'the page was reloaded');

    const all = await (await context.request.get(BASE + '/api/v1/requests?status=all')).json();
    const byDevice = Object.fromEntries(all.requests.map((r) => [r.device, r]));
    const approved = byDevice[APPROVE];
    const rejected = byDevice[REJECT];
    check(approved?.status === 'approved' && approved.serial && approved.decided_by === 'api:admin',
          JSON.stringify(approved));
    check(rejected?.status === 'rejected' && rejected.reason === 'unknown printer' && rejected.decided_by === 'api:admin',
          JSON.stringify(rejected));
  });

  await step('devices: the search runs on the server and lands in the URL', async () => {
    await page.goto(BASE + '/devices');
    await page.getByLabel('Name or owner').fill('kiosk');
    await page.keyboard.press('Enter');
    await page.waitForURL(BASE + '/devices?search=kiosk');
    await page.getByRole('link', { name: FOREIGN }).waitFor();
    const names = await page.locator('tbody tr td:first-child').allTextContents();
    check(names.length === 1 && names[0] === FOREIGN, `rows: ${names}`);
  });

  await step('a device name and a User-Name made of HTML render as text', async () => {
    await page.goto(BASE + '/devices');
    await page.getByRole('link', { name: XSS }).waitFor();
    await page.getByRole('link', { name: XSS }).click();
    await page.getByRole('heading', { name: 'Device ' + XSS }).waitFor();
    await page.goto(BASE + '/events');
    await page.getByText(HTML_USER, { exact: true }).first().waitFor();
    await page.goto(BASE + devicePath(FOREIGN));
    await page.locator('.timeline code', { hasText: HTML_USER }).first().waitFor();
    check((await page.locator('img').count()) === 0, 'an <img> element was made from text');
    check(dialogs.length === 0, `a dialog fired: ${dialogs}`);
  });

  await step('the foreign-CA reject shows its reason on the device page', async () => {
    await page.goto(BASE + devicePath(FOREIGN));
    await page.locator('.timeline').getByText('presented a certificate from another CA (issuer CN=Other CA)').first().waitFor();
    await shot(page, 'device-foreign-ca');
  });

  await step('the Apple profile downloads with the cookie and a fresh challenge', async () => {
    await page.goto(BASE + devicePath(FOREIGN));
    await page.fill('#profile-ssid', 'corp-wifi');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download the Apple profile' }).click(),
    ]);
    const text = readFileSync(await download.path(), 'utf8');
    check(text.includes('<plist') && text.includes('corp-wifi'), text.slice(0, 300));
    check(download.suggestedFilename().endsWith('.mobileconfig'), download.suggestedFilename());
  });

  await step('disable, enable and mint a challenge from the device page', async () => {
    await page.goto(BASE + devicePath(FOREIGN));
    await page.getByRole('button', { name: 'Disable' }).click();
    await page.getByRole('status').filter({ hasText: 'Disabled.' }).waitFor();
    await page.locator('.facts dd', { hasText: /^no$/ }).waitFor();
    await page.getByRole('button', { name: 'Enable' }).click();
    await page.getByRole('status').filter({ hasText: 'Enabled.' }).waitFor();
    await page.locator('.facts dd', { hasText: /^yes$/ }).waitFor();
    await page.fill('#groups', 'kiosks, lobby');
    await page.getByRole('button', { name: 'Save groups' }).click();
    await page.getByRole('status').filter({ hasText: 'Groups saved.' }).waitFor();
    await page.goto(BASE + '/devices?group=lobby');
    await page.getByRole('link', { name: FOREIGN }).waitFor();
    const names = await page.locator('tbody tr td:first-child').allTextContents();
    check(names.length === 1 && names[0] === FOREIGN, `group lobby: ${names}`);
    await page.goto(BASE + devicePath(FOREIGN));
    await page.getByRole('button', { name: 'Mint an enrollment challenge' }).click();
    const code = await page.locator('.challenge code').textContent();
    check(code && code.length >= 16, `challenge "${code}"`);
    const audit = await (await context.request.get(BASE + '/api/v1/audit?target=' + encodeURIComponent(FOREIGN))).json();
    check(audit.entries.some((e) => e.actor === 'api:admin'), JSON.stringify(audit).slice(0, 300));
  });

  await step('the revoke dialog works by keyboard alone: focus trapped, Esc closes', async () => {
    await page.goto(BASE + devicePath(LIVE));
    await page.locator('#live-sessions tbody tr').first().waitFor();
    await shot(page, 'device-live-session');
    const opener = page.getByRole('button', { name: 'Revoke and disconnect…' });
    await opener.focus();
    await page.keyboard.press('Enter');
    await page.locator('dialog[open]').waitFor();
    check(await focusInDialog(page), 'focus did not move into the dialog');
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press(i % 3 === 2 ? 'Shift+Tab' : 'Tab');
      check(await focusInDialog(page), `focus left the dialog after ${i + 1} Tab presses`);
    }
    await page.keyboard.press('Escape');
    await page.locator('dialog[open]').waitFor({ state: 'detached' });
    check(await opener.evaluate((el) => el === document.activeElement), 'focus did not return to the button');
  });

  await step('Revoke and disconnect: the NAS acknowledges and the session leaves the page', async () => {
    await page.keyboard.press('Enter');
    await page.locator('dialog[open]').waitFor();
    await shot(page, 'revoke-dialog');
    // Focus starts on the reason; choose one with the arrow keys, tick the box with Space.
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Space');
    check(await page.locator('#revoke-confirm').isChecked(), 'the confirmation box is not ticked');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => document.activeElement?.textContent);
    check(focused === 'Revoke and disconnect', `focus on "${focused}"`);
    await page.keyboard.press('Enter');
    await page.locator('dialog[open]').waitFor({ state: 'detached' });
    await page.getByRole('status').filter({ hasText: 'Revoked 1 certificate' }).waitFor();
    // Polling every 2 s: the session goes, and the NAS's answer shows in the timeline.
    await page.locator('#no-live-sessions').waitFor({ timeout: 20_000 });
    await page.locator('.timeline').getByText('Disconnect ACK').first().waitFor({ timeout: 20_000 });
    await page.locator('.status-revoked').first().waitFor();
    await shot(page, 'device-revoked');
  });

  await step('sessions: filter by SSID and disconnect one; it leaves the page', async () => {
    await page.goto(BASE + '/sessions');
    await page.getByLabel('SSID').fill('corp-wifi');
    await page.keyboard.press('Enter');
    await page.waitForURL(BASE + '/sessions?ssid=corp-wifi');
    const row = page.locator('tbody tr', { hasText: PHONE });
    await row.waitFor();
    await shot(page, 'sessions-live');
    await row.getByRole('button', { name: 'Disconnect' }).click();
    await page.getByRole('status').filter({ hasText: 'Disconnect-Request sent' }).waitFor();
    await row.waitFor({ state: 'detached', timeout: 20_000 });
  });

  await step('policy: the test form answers like `policy test`', async () => {
    await page.goto(BASE + '/policy');
    await page.getByLabel('Device').fill(PHONE);
    await page.getByLabel('NAS', { exact: true }).fill('loopback');
    await page.getByRole('button', { name: 'Test' }).click();
    await page.locator('.answer').getByText('Accepted by rule default').waitFor();
  });

  await step('a forged cross-site POST is refused', async () => {
    // Another origin on the same site: SameSite lets the cookie go along, so only the CSRF
    // token and the Origin check stand between this page and a state change.
    const other = await context.newPage();
    await other.goto(OTHER);
    const statuses = await other.evaluate(async ({ base, device }) => {
      const url = base + '/api/v1/devices/' + encodeURIComponent(device) + '/disable';
      const out = [];
      const a = await fetch(url, { method: 'POST', credentials: 'include', mode: 'no-cors', body: '{}' });
      out.push(a.type);
      return out;
    }, { base: BASE, device: FOREIGN });
    check(statuses[0] === 'opaque', `fetch answered ${statuses}`);
    await other.close();
    // The same request from the console's own origin but without (or with a wrong) token.
    const forged = await page.evaluate(async ({ device }) => {
      const url = '/api/v1/devices/' + encodeURIComponent(device) + '/disable';
      const none = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
      const wrong = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': 'x' }, body: '{}' });
      return [none.status, wrong.status];
    }, { device: FOREIGN });
    check(forged[0] === 403 && forged[1] === 403, `no/wrong CSRF token: ${forged}`);
    const r = await context.request.get(BASE + '/api/v1/devices/' + encodeURIComponent(FOREIGN));
    check((await r.json()).enabled === true, 'the device was disabled by a forged request');
  });

  await step('screenshots of every page', async () => {
    for (const path of PAGES) {
      await page.goto(BASE + path);
      await page.locator('main h1').first().waitFor();
      // Each page's live data, not only its frame.
      const content = { '/': '.chart canvas', '/nas': 'td:text-is("loopback")', '/events': 'tbody tr',
                        '/certificates': 'tbody tr', '/policy': 'tbody tr' }[path];
      if (content) await page.locator(content).first().waitFor();
      await page.waitForTimeout(300);
      await shot(page, path === '/' ? 'overview' : path.slice(1));
    }
    check(dialogs.length === 0, `a dialog fired: ${dialogs}`);
    check(pageErrors.length === 0, `script errors or CSP violations: ${pageErrors}`);
  });

  await step('sign out ends the session', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(BASE + '/signin');
    const r = await context.request.get(BASE + '/devices', { maxRedirects: 0 });
    check(r.status() === 303, `after sign-out /devices answered ${r.status()}`);
  });
} finally {
  await browser.close();
  clearTimeout(overall);
}

const failed = results.filter(([, ok]) => !ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
