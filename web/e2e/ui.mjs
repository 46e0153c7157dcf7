// Browser steps of internal/lab's TestWebUI: playwright-core driving Debian's
// chromium against the real daemon. Each step starts a fresh browser, logs
// in when it needs to, does one thing, and exits non-zero on failure.
//
//   node ui.mjs <step> <base URL> <screenshot dir>     (WANLB_PASSWORD set)
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import path from 'node:path';

const [step, base, shots] = process.argv.slice(2);
const password = process.env.WANLB_PASSWORD;

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
page.setDefaultTimeout(15000);
const log = (...a) => console.log(...a);
// An uncaught error in the page (a module that fails to load, a name a
// module forgot to import) fails the step, even when the page looks fine.
const pageErrors = [];
page.on('pageerror', e => pageErrors.push(e.message));

async function login(pass = password) {
  await page.goto(base);
  await page.fill('#login-username', 'root');
  await page.fill('#login-password', pass);
  await page.click('#login-submit');
}

async function loggedIn() {
  await login();
  await page.waitForSelector('[data-testid^="wan-card-"]');
}

async function shot(name) {
  await page.screenshot({ path: path.join(shots, name + '.png'), fullPage: true });
  log('screenshot', name);
}

async function open(route, ready) {
  await page.goto(base + '#/' + route);
  await page.waitForSelector(ready);
  await page.waitForTimeout(300); // let the page finish drawing
}

const steps = {
  // Every page, after a wrong password was refused.
  async pages() {
    await page.goto(base);
    await page.waitForSelector('#login-username');
    await shot('login');
    await login('not the password');
    await page.waitForSelector('#login-error:not(:empty)');
    log('wrong password refused:', await page.textContent('#login-error'));
    await loggedIn();
    await page.waitForSelector('[data-testid="wan-card-wan1"][data-state="online"]');
    await page.waitForTimeout(2500); // a second status poll fills the numbers
    await shot('status');
    await open('load-balancing', '#lb-weight-wan1');
    await shot('load-balancing');
    await open('link-backup', '#lb-add');
    await shot('link-backup');
    await open('online-detection', '#od-table');
    await shot('online-detection');
    await open('policy-routing', '#pr-add');
    await shot('policy-routing');
    await page.setViewportSize({ width: 390, height: 844 });
    await open('status', '[data-testid="wan-card-wan1"]');
    await shot('status-phone');
  },

  // The detection dialog keeps an unset-style timeout in step with the
  // interval (two intervals, at most 1 s), and leaves one the user typed.
  async timeout() {
    await loggedIn();
    await open('online-detection', '#od-table');
    await page.click('#od-edit-wan1');
    await page.waitForSelector('#od-form');
    assert.equal(await page.inputValue('#od-timeout'), '1');
    await page.fill('#od-interval', '0.2');
    assert.equal(await page.inputValue('#od-timeout'), '0.4');
    log('interval 0.2:', await page.textContent('#od-estimate'));
    assert.match(await page.textContent('#od-estimate'), /within 1 s/);
    await page.fill('#od-timeout', '0.5');
    await page.fill('#od-interval', '0.3');
    assert.equal(await page.inputValue('#od-timeout'), '0.5');
  },

  // Weights 3:1 on the Load Balancing page.
  async weights() {
    await loggedIn();
    await open('load-balancing', '#lb-weight-wan1');
    await page.fill('#lb-weight-wan1', '3');
    await page.fill('#lb-weight-wan2', '1');
    await page.click('#save-apply');
    await page.waitForSelector('#notice[data-kind="success"]');
    log('saved:', await page.textContent('#notice'));
    // The page reads the stored values back.
    await open('load-balancing', '#lb-weight-wan1');
    assert.equal(await page.inputValue('#lb-weight-wan1'), '3');
  },

  // A link backup entry: wan1 primary, wan2 backup.
  async backup() {
    await loggedIn();
    await open('link-backup', '#lb-add');
    await page.click('#lb-add');
    await page.waitForSelector('#lbe-form');
    await page.check('#lbe-primary-wan1');
    await page.check('#lbe-backup-wan2');
    await shot('link-backup-dialog');
    await page.click('#dialog-save');
    await page.waitForSelector('#notice[data-kind="success"]');
    await page.waitForSelector('#lb-table >> text=wan2');
    await shot('link-backup-entry');
  },

  // Passive detection on the Online Detection page: on by default, its
  // window edited and saved.
  async passive() {
    await loggedIn();
    await open('online-detection', '#od-table');
    await page.click('#od-edit-wan1');
    await page.waitForSelector('#od-passive');
    assert.equal(await page.isChecked('#od-passive'), true);
    assert.equal(await page.inputValue('#od-passive-window'), '0.4');
    await page.fill('#od-passive-window', '0.05');
    await page.click('#dialog-save');
    // Too short a window: refused in the page with the schema's limits.
    const err = '.cbi-error[data-field="passive_window"]';
    await page.waitForSelector(err);
    log('refused:', await page.textContent(err));
    await page.fill('#od-passive-window', '0.6');
    await shot('online-detection-passive');
    await page.click('#dialog-save');
    await page.waitForSelector('#notice[data-kind="success"]');
    await page.waitForSelector('[data-testid="od-timing-wan1"] >> text=passive: 0.6 s');
    log('wan1 timing:', await page.textContent('[data-testid="od-timing-wan1"]'));
  },

  // wan2 is blackholed: its card must turn offline.
  async offline() {
    await loggedIn();
    await page.waitForSelector('[data-testid="wan-card-wan2"][data-state="offline"]', { timeout: 20000 });
    // The card lists the change, newest first: from online to offline.
    const last = '[data-testid="wan-changes-wan2"] li:first-child';
    await page.waitForSelector(`${last} .badge[data-state="offline"]`);
    log('wan2 last change:', (await page.innerText(last)).replace(/\s+/g, ' '));
    await shot('status-offline');
    // Why: nothing but probes went through wan2, so the probes said so.
    log('wan2 offline because:', await page.textContent('[data-testid="wan-reason-wan2"]'));
    assert.equal(await page.textContent('[data-testid="wan-reason-wan2"]'), 'probes failed');
    log('wan2 card:', await page.getAttribute('[data-testid="wan-card-wan2"]', 'data-state'));
  },

  // Five wrong passwords, then even the right one is refused for a minute.
  async lockout() {
    for (let i = 0; i < 5; i++) {
      await login('wrong ' + i);
      await page.waitForSelector('#login-error:not(:empty)');
    }
    await login();
    await page.waitForSelector('#login-error:has-text("Too many")');
    await shot('login-lockout');
    log('locked out:', await page.textContent('#login-error'));
  },
};

try {
  assert.ok(steps[step], 'unknown step ' + step);
  await steps[step]();
  assert.deepEqual(pageErrors, [], 'errors in the page');
} catch (e) {
  console.error(e);
  await page.screenshot({ path: path.join(shots, 'failed-' + step + '.png'), fullPage: true }).catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
}
