// Drives keyward's console in Debian's Chromium (playwright-core) through
// Pier Cloud's API-key script and the console's other screens, checking
// each page with axe-core. Usage:
//
//	node console.mjs '{"base":"http://127.0.0.1:P","attack":"http://127.0.0.1:Q/attack",
//	                   "adminPassword":"…","artifacts":"/abs/dir"}'
//
// Every check throws on failure; at the end it prints one JSON object of
// what it observed, which the Go test asserts again.
import { chromium } from 'playwright-core';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const cfg = JSON.parse(process.argv[2]);
const base = cfg.base;
fs.mkdirSync(cfg.artifacts, { recursive: true });

const out = { steps: [], axe: {}, screenshots: [], layout: {} };
function check(cond, msg) {
  if (!cond) throw new Error('check failed: ' + msg);
}
function step(name) { out.steps.push(name); }

async function shot(page, name) {
  const file = path.join(cfg.artifacts, name + '.png');
  await page.screenshot({ path: file, fullPage: true });
  out.screenshots.push(file);
}

// axe reports serious or critical violations of the page as it is now.
async function axe(page, name) {
  await page.evaluate(axeSource);
  const res = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5) }));
  });
  const bad = res.filter(v => v.impact === 'serious' || v.impact === 'critical');
  out.axe[name] = bad;
  check(bad.length === 0, `axe on ${name}: ${JSON.stringify(bad)}`);
}

async function api(method, p, auth, body) {
  const headers = {};
  if (auth) headers.Authorization = auth;
  if (body) headers['Content-Type'] = 'application/json';
  const res = await fetch(base + p, { method, headers, body: body ? JSON.stringify(body) : undefined });
  let json = null;
  try { json = await res.json(); } catch { /* not JSON */ }
  return { status: res.status, json };
}
const whoami = secret => api('GET', '/v1/whoami', 'Bearer ' + secret).then(r => r.status);

async function row(page, name) {
  return page.locator('tr', { has: page.locator('a.strong', { hasText: new RegExp('^' + name + '$') }) });
}

// launch() gives Chromium a fresh, temporary user-data dir of its own.
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
  timeout: 30000,
});
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  const scriptErrors = [];
  page.on('pageerror', e => { scriptErrors.push(String(e)); console.error('page error:', e); });
  const clipboard = () => page.evaluate(() => navigator.clipboard.readText());
  // clipboardIs waits (up to 5 s) for the clipboard to hold want: a copy
  // finishes after the click returns, later on a busy machine.
  const clipboardIs = async (want) => {
    for (let i = 0; i < 50; i++) {
      if (await clipboard() === want) return true;
      await page.waitForTimeout(100);
    }
    return false;
  };

  // 1. Sign in, by keyboard only; a wrong password is explained first.
  await page.goto(base + '/console');
  check(page.url().startsWith(base + '/console/login'), 'the console starts at the login: ' + page.url());
  await shot(page, '01-login');
  await axe(page, 'login');
  const focus = () => page.evaluate(() => ({ id: document.activeElement.id, cls: document.activeElement.className,
    outline: getComputedStyle(document.activeElement).outlineStyle }));
  check((await focus()).id === 'userName', 'the login form starts focused on the user name');
  await page.keyboard.type('admin');
  await page.keyboard.press('Tab');
  const f = await focus();
  check(f.id === 'password' && f.outline !== 'none', 'Tab reaches the password, visibly focused: ' + JSON.stringify(f));
  await page.keyboard.type('wrong password');
  await page.keyboard.press('Enter');
  await page.waitForSelector('.alert');
  check((await page.textContent('.alert')).includes('not right'), 'a wrong password is explained');
  await page.locator('#password').fill(cfg.adminPassword);
  await page.locator('#password').press('Enter');
  await page.waitForURL(base + '/console/keys');
  step('login');

  await page.keyboard.press('Tab'); // the skip link comes first on every page
  const sk = await focus();
  check(sk.cls === 'skip' && sk.outline !== 'none', 'the first Tab reaches a visibly focused skip link: ' + JSON.stringify(sk));

  // 2. The empty list says what to do.
  check((await page.textContent('.empty')).includes('Click Add'), 'the empty state says what to do');
  const [iconColor, buttonColor] = await page.evaluate(() => {
    const b = document.querySelector('.empty .btn');
    return [getComputedStyle(b.querySelector('.icon')).color, getComputedStyle(b).backgroundColor];
  });
  check(iconColor !== buttonColor, `the empty state's Add icon is visible on its button: ${iconColor} on ${buttonColor}`);
  await shot(page, '02-keys-empty');
  await axe(page, 'keys-empty');

  // 3. Add: out-of-range lifespans are explained next to the field.
  await page.click('text=Add');
  await page.waitForURL(base + '/console/keys/new');
  check(await page.inputValue('#lifespanValue') === '1' && await page.inputValue('#lifespanUnit') === 'hours', 'the default lifespan is 1 hour');
  await page.fill('#name', 'Billing service');
  await page.fill('#description', 'Invoices and payments');
  await page.check('input[name=scopes][value="apikeys:read"]');
  await page.fill('#lifespanValue', '30');
  await page.click('button:has-text("Save")');
  await page.waitForSelector('#lifespan-error');
  check((await page.textContent('#lifespan-error')).includes('1 to 24'), 'hours above 24 are explained');
  check((await focus()).id === 'lifespanValue', 'the first invalid field has the focus');
  await page.focus('#name');
  await page.click('#error-summary a[href="#lifespanValue"]');
  check((await focus()).id === 'lifespanValue', 'the error summary leads to the field');
  await page.selectOption('#lifespanUnit', 'minutes');
  await page.fill('#lifespanValue', '56');
  await page.click('button:has-text("Save")');
  await page.waitForSelector('#lifespan-error');
  check((await page.textContent('#lifespan-error')).includes('1 to 55'), 'minutes above 55 are explained');
  check(await page.inputValue('#name') === 'Billing service', 'the form keeps what was typed');
  await shot(page, '03-add-key-errors');
  await axe(page, 'add-key-errors');
  await page.selectOption('#lifespanUnit', 'hours');
  await page.fill('#lifespanValue', '2');
  await page.click('button:has-text("Save")');

  // 4. The secret, once, with a warning and copy buttons.
  const dialog = page.locator('#secret-dialog');
  await dialog.waitFor({ state: 'visible' });
  check(await dialog.evaluate(d => d.matches(':modal')), 'the secret dialog is modal');
  check((await dialog.textContent()).includes('will not be shown again'), 'the dialog warns the secret is shown once');
  const clientId = await page.inputValue('#issued-client-id');
  const secret1 = await page.inputValue('#issued-secret');
  check(page.url() === base + '/console/keys', 'the URL while the dialog is open is the list: ' + page.url());
  await shot(page, '04-secret-dialog');
  await axe(page, 'secret-dialog');
  await page.click('.snippet summary');
  check((await page.textContent('#snippet-curl')).includes(clientId + ':$KEYWARD_CLIENT_SECRET'), 'the curl example has the real client ID');
  check((await page.textContent('#snippet-go')).includes('"' + clientId + '"') && !(await page.textContent('.snippet')).includes(secret1), 'the Go example has the client ID and never the secret');
  await shot(page, '04a-secret-dialog-snippets');
  await page.click('button[aria-label="Copy client secret"]');
  await page.waitForFunction(() => document.getElementById('live').textContent.includes('Copied'));
  const copied = await clipboard();
  check(copied === secret1, 'the copy button puts the secret on the clipboard');
  check(await whoami(copied) === 200, 'the copied secret works against /v1/whoami');
  // Esc asks before the secret goes; "Keep it open" keeps it.
  await page.keyboard.press('Escape');
  await page.locator('[data-ask-close]').waitFor({ state: 'visible' });
  check(await dialog.isVisible() && await page.inputValue('#issued-secret') === secret1, 'Esc asks first: the secret is still there');
  await shot(page, '04b-secret-ask-close');
  await axe(page, 'secret-ask-close');
  check((await focus()).cls.includes('btn') && await page.evaluate(() => document.activeElement.hasAttribute('data-keep-open')), 'the question focuses "Keep it open"');
  await page.keyboard.press('Enter');
  await page.locator('[data-ask-close]').waitFor({ state: 'hidden' });
  check(await dialog.isVisible(), 'Keep it open keeps the dialog');
  step('add');

  // Close: the secret is nowhere in the page, the history or the URL.
  await page.click('[data-close-secret]');
  await page.waitForSelector('#secret-dialog', { state: 'detached' });
  check(!(await page.content()).includes(secret1), 'the secret is gone from the page');
  check(!page.url().includes(secret1), 'the secret is not in the URL');
  const r = await row(page, 'Billing service');
  check((await r.textContent()).includes('2 hours'), 'the new key is listed with its lifespan');
  // Back leads to the form's earlier answers, which Chromium does not keep
  // (no-store: "confirm form resubmission"), never to the secret.
  const nav = async fn => {
    try { await fn(); } catch (e) { if (!String(e).includes('ERR_CACHE_MISS')) throw e; }
    await page.waitForLoadState('load');
  };
  const settled = async () => {
    for (let i = 0; ; i++) {
      try { return await page.content(); } catch (e) {
        if (i > 50 || !String(e).includes('navigating')) throw e;
        await new Promise(r => setTimeout(r, 100));
      }
    }
  };
  await nav(() => page.goBack());
  check(!(await settled()).includes(secret1), 'going back does not show the secret: ' + page.url());
  await nav(() => page.goForward());
  check(!(await settled()).includes(secret1), 'going forward does not show the secret');
  // Add, close the secret, Back to the add form, Save again: the key is
  // not made twice.
  await page.goto(base + '/console/keys');
  await page.click('text=Add');
  await page.waitForURL(base + '/console/keys/new');
  await page.fill('#name', 'Twice');
  await page.click('button:has-text("Save")');
  await dialog.waitFor({ state: 'visible' });
  await page.click('[data-close-secret]'); // not copied: it asks
  await page.click('[data-leave]');
  await page.waitForSelector('#secret-dialog', { state: 'detached' });
  await nav(() => page.goBack());
  await settled();
  check(page.url() === base + '/console/keys/new', 'Back leads to the add form: ' + page.url());
  if (await page.inputValue('#name') === '') { // the browser did not restore the typed fields
    await page.fill('#name', 'Twice');
  }
  await page.click('button:has-text("Save")');
  await page.waitForSelector('.notice');
  check((await page.textContent('.notice')).includes('already created'), 'Save after Back says the key was already created');
  check((await page.textContent('h1')).includes('Twice'), 'and shows the key made the first time');
  await shot(page, '04c-back-save-already-created');
  await page.goto(base + '/console/keys');
  check(await page.locator('tbody tr', { hasText: 'Twice' }).count() === 1, 'Back then Save made no second key');
  await (await row(page, 'Twice')).locator('a[aria-label="Delete Twice"]').click();
  await page.locator('#confirm-dialog button[type=submit]').click();
  await page.waitForSelector('.notice');
  step('secret-gone');

  // 5. Copy the client ID from the row.
  await (await row(page, 'Billing service')).locator('button[data-copy]').click();
  await page.waitForFunction(() => document.getElementById('live').textContent.includes('Copied'));
  check(await clipboardIs(clientId), 'the row copies the client ID');

  // 6. Deactivate: the secret stops; activate: it works again.
  await (await row(page, 'Billing service')).locator('button[aria-label="Deactivate Billing service"]').click();
  await page.waitForSelector('.notice');
  check((await (await row(page, 'Billing service')).textContent()).includes('Inactive'), 'the row shows Inactive');
  check(await whoami(secret1) === 401, 'a deactivated key is refused');
  await shot(page, '05-keys-deactivated');
  await (await row(page, 'Billing service')).locator('button[aria-label="Activate Billing service"]').click();
  await page.waitForSelector('.notice');
  check(await whoami(secret1) === 200, 'an activated key works again');
  step('deactivate-activate');

  // 7. Generate a new client secret: confirm, shown once, the old one stops.
  await (await row(page, 'Billing service')).locator('a[aria-label="Generate new client secret for Billing service"]').click();
  const confirm = page.locator('#confirm-dialog');
  await confirm.waitFor({ state: 'visible' });
  check(await confirm.locator('#grace').isVisible(), 'the rotation offers a grace period');
  await confirm.locator('#grace').selectOption('custom');
  check(await confirm.locator('#graceMinutes').isVisible(), 'another time asks for minutes');
  await confirm.locator('#grace').selectOption('3600');
  await shot(page, '06-confirm-rotate');
  await axe(page, 'confirm-rotate');
  await confirm.locator('button[type=submit]').click();
  await dialog.waitFor({ state: 'visible' });
  const secret2 = await page.inputValue('#issued-secret');
  check(secret2 !== secret1 && await page.inputValue('#issued-client-id') === clientId, 'a new secret for the same client ID');
  check((await page.textContent('#secret-title')).includes('the old one works until'), 'the dialog says until when the old secret works');
  await page.click('button[aria-label="Copy client secret"]');
  check(await clipboardIs(secret2), 'the new secret is copied');
  check(await whoami(secret1) === 200, 'with a grace period of an hour the old secret still works');
  check(await whoami(secret2) === 200, 'the new secret works');
  await page.keyboard.press('Escape'); // Esc asks; "Close anyway" leaves as Close does
  await page.click('[data-leave]');
  await page.waitForURL(base + '/console/keys');
  await page.waitForSelector('#secret-dialog', { state: 'detached' });
  check(!(await page.content()).includes(secret2), 'the new secret is gone after closing');
  step('rotate');

  // 8. Edit: the client ID is read-only.
  await (await row(page, 'Billing service')).locator('a[aria-label="Edit Billing service"]').click();
  await page.waitForSelector('#clientId');
  check(await page.locator('#clientId').getAttribute('readonly') !== null && await page.inputValue('#clientId') === clientId, 'the client ID is read-only');
  await page.fill('#name', 'Billing');
  await page.selectOption('#lifespanUnit', 'minutes');
  await page.fill('#lifespanValue', '45');
  await page.fill('#rateLimit', '600');
  await page.selectOption('#rateWindow', '60');
  check(await page.locator('#expiresOn').isHidden(), 'the day field is hidden until "On a day…"');
  await page.selectOption('#expires', '90');
  await page.fill('#rateLimits', 'burst ten/1s');
  await page.click('button:has-text("Save")');
  await page.waitForSelector('#rateLimits-error');
  check((await page.textContent('#rateLimits-error')).includes('requests/window'), 'invalid named limits are explained');
  check((await focus()).id === 'rateLimits', 'invalid named limits have the focus');
  await page.fill('#rateLimits', 'burst 10/1s\ndaily 10000/1d');
  await shot(page, '07-edit-key');
  await axe(page, 'edit-key');
  await page.click('button:has-text("Save")');
  await page.waitForSelector('.notice');
  check(/\/console\/keys\/[0-9a-f-]{36}\?done=updated$/.test(page.url()), 'after editing you land on the key: ' + page.url());
  check((await page.textContent('.details')).includes('45 minutes'), 'the edit shows on the key page');
  check((await page.textContent('.details')).includes('burst: 10 per second, daily: 10000 per day'), 'the named limits show on the key page');
  const in90 = new Date(Date.now() + 90 * 86400e3).toISOString().slice(0, 10);
  check((await page.textContent('.details')).includes(in90), 'the expiry preset of 90 days is the day in 90 days: ' + in90);
  // Deactivate and activate from the key's page.
  await page.click('.head-actions button:has-text("Deactivate")');
  await page.waitForSelector('.notice');
  check((await page.textContent('h1')).includes('Inactive') && await whoami(secret2) === 401, 'deactivated from its page');
  await page.click('.head-actions button:has-text("Activate")');
  await page.waitForSelector('.notice');
  check((await page.textContent('h1')).includes('Active') && await whoami(secret2) === 200, 'activated from its page');
  check((await page.textContent('.details')).includes('previous secret also works until'), 'the key page says the old secret still works');
  step('edit');

  // 9. Filters and paging over keys made through the API.
  const login = await api('POST', '/v1/login', '', { userName: 'admin', password: cfg.adminPassword });
  const admin = 'Bearer ' + login.json.accessToken;
  for (let i = 1; i <= 24; i++) {
    const k = await api('POST', '/v1/apikeys', admin, { name: `Partner ${String(i).padStart(2, '0')}`, isActive: i % 4 !== 0 });
    check(k.status === 201, 'creating a key through the API: ' + k.status);
  }
  await page.goto(base + '/console/keys');
  check(await page.locator('tbody tr').count() === 20, 'a page holds 20 keys');
  await shot(page, '08-keys-list');
  await axe(page, 'keys-list');
  await page.click('a[rel=next]');
  await page.waitForURL(/page=2/);
  check(await page.locator('tbody tr').count() === 5, 'page 2 holds the other 5');
  await page.fill('#q', 'partner 1');
  await page.click('button:has-text("Search")');
  await page.waitForURL(/q=partner/);
  const names = await page.locator('tbody a.strong').allTextContents();
  check(names.length === 10 && names.every(n => n.startsWith('Partner 1')), 'search by name: ' + names.join(', '));
  await page.selectOption('#status', 'inactive'); // submits by itself
  await page.waitForURL(/status=inactive/);
  const states = await page.locator('tbody .state').allTextContents();
  check(states.length === 2 && states.every(s => s === 'Inactive'), 'status filter Inactive within the search: ' + states.join(','));
  await shot(page, '09-keys-filtered');
  await page.selectOption('#status', 'active');
  await page.waitForURL(/status=active/);
  check((await page.locator('tbody .state').allTextContents()).every(s => s === 'Active'), 'status filter Active');
  await page.selectOption('#sort', '-name'); // submits by itself, keeping the filters
  await page.waitForURL(/sort=-name/);
  const sorted = await page.locator('tbody a.strong').allTextContents();
  check(page.url().includes('status=active') && sorted.join() === [...sorted].sort().reverse().join() && sorted.length > 1, 'ordered by name, descending: ' + sorted.join(', '));
  // Column headers sort too: a link that keeps the filters, toggles the
  // direction, says it with aria-sort and an arrow, and works by keyboard.
  const nameTh = page.locator('th', { has: page.locator('a.sort', { hasText: 'Name' }) });
  check(await nameTh.getAttribute('aria-sort') === 'descending' && (await nameTh.textContent()).includes('▼'), 'the Name header says descending');
  await nameTh.locator('a.sort').click();
  await page.waitForURL(/sort=name(&|$)/);
  check(page.url().includes('status=active') && page.url().includes('q=partner'), 'sorting by a header keeps the filters: ' + page.url());
  const asc = await page.locator('tbody a.strong').allTextContents();
  check(asc.join() === [...sorted].reverse().join(), 'ordered by name, ascending, by the header: ' + asc.join(', '));
  check(await nameTh.getAttribute('aria-sort') === 'ascending' && (await nameTh.textContent()).includes('▲'), 'the Name header says ascending');
  check(await page.inputValue('#sort') === 'name', 'the order select follows the header');
  check(await page.locator('th[aria-sort]').count() === 1, 'one header carries aria-sort');
  await page.focus('#q');
  let reached = '';
  for (let i = 0; i < 25 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement.matches('th a.sort') ? document.activeElement.textContent : '');
  }
  check(reached.startsWith('Name'), 'the headers are reached by Tab: ' + reached);
  await page.locator('th a.sort', { hasText: 'Last used' }).focus();
  await page.keyboard.press('Enter');
  await page.waitForURL(/sort=-lastUsedAt/);
  check(await page.locator('th', { has: page.locator('a.sort', { hasText: 'Last used' }) }).getAttribute('aria-sort') === 'descending', 'Enter on a header sorts (most recent first)');
  await shot(page, '09b-keys-sorted-by-header');
  await axe(page, 'keys-sorted');
  step('filters-paging');

  // 10. A key's page with its usage.
  await page.goto(base + '/console/keys?q=billing');
  await (await row(page, 'Billing')).locator('a.strong').click();
  await page.waitForSelector('#usage-h');
  check((await page.textContent('.details')).includes(clientId), 'the key page shows the client ID');
  check((await page.textContent('.details')).includes('600 per minute'), 'the key page shows the rate limit');
  await shot(page, '10-key-detail');
  await axe(page, 'key-detail');
  step('detail');

  // 11. Users (add a level-2 user), permissions (add a composite), audit.
  await page.click('nav.side >> text=Users');
  await page.fill('#userName', 'viewer');
  await page.fill('#password', 'viewer-password-123');
  await page.selectOption('#level', '2');
  await page.click('button:has-text("Add user")');
  await page.waitForSelector('.notice');
  check((await page.textContent('table')).includes('viewer'), 'the new user is listed');
  await shot(page, '11-users');
  await axe(page, 'users');
  await page.click('a[aria-label="Edit viewer"]');
  await page.waitForSelector('#level');
  check(await page.inputValue('#level') === '2', 'the user edit form shows the level');
  await shot(page, '11b-user-edit');
  await axe(page, 'user-edit');
  await page.click('a:has-text("Cancel")');
  await page.waitForURL(base + '/console/users');
  // Deactivating a user asks first and says what happens to their keys.
  await page.click('a[aria-label="Deactivate viewer"]');
  await page.waitForSelector('h1:has-text("Deactivate")');
  check((await page.textContent('main')).includes('can no longer sign in'), 'the user deactivation says what happens');
  await shot(page, '11c-user-deactivate');
  await axe(page, 'user-deactivate');
  await page.click('a:has-text("Cancel")');
  await page.waitForURL(base + '/console/users');
  // Tenants, for root admins.
  // The users list sorts by its headers too, keeping the search.
  await page.goto(base + '/console/users?q=i');
  await page.locator('th a.sort', { hasText: 'Level' }).click();
  await page.waitForURL(/sort=-level/);
  check(page.url().includes('q=i'), 'the users header keeps the search: ' + page.url());
  const levels = (await page.locator('tbody td[data-label=Level]').allTextContents()).map(Number);
  check(levels.length === 2 && levels.join() === [...levels].sort((a, b) => b - a).join(), 'users by level, highest first: ' + levels.join());
  check(await page.locator('th[aria-sort=descending]').textContent().then(t => t.includes('Level')), 'the Level header says descending');
  await page.click('nav.side >> text=Tenants');
  await page.fill('#tenant-name', 'acme');
  await page.fill('#tenant-prefix', 'acme');
  await page.click('button:has-text("Add tenant")');
  await page.waitForSelector('.notice');
  check((await page.textContent('table')).includes('acme_id_'), 'the new tenant is listed with its prefix');
  await shot(page, '11d-tenants');
  await axe(page, 'tenants');
  await page.click('nav.side >> text=Permissions');
  await page.fill('#perm-name', 'orders:read');
  await page.fill('#perm-description', 'Read orders');
  await page.click('button:has-text("Add permission")');
  await page.waitForSelector('.notice');
  await page.fill('#perm-name', 'orders:all');
  await page.check('input[name=children][value="orders:read"]');
  await page.click('button:has-text("Add permission")');
  await page.waitForSelector('.notice');
  const composite = page.locator('tr', { has: page.locator('code', { hasText: /^orders:all$/ }) });
  check((await composite.textContent()).includes('orders:read'), 'the composite lists its member');
  await shot(page, '12-permissions');
  await axe(page, 'permissions');
  await page.click('nav.side >> text=Audit log');
  check((await page.textContent('table')).includes('permission.create'), 'the audit log lists the newest changes');
  await page.fill('#action', 'apikey.rotate');
  await page.click('button:has-text("Filter")');
  await page.waitForURL(/action=apikey.rotate/);
  check(await page.locator('tbody tr').count() === 1, 'the audit log filtered by action shows the one rotation');
  await shot(page, '13-audit');
  await axe(page, 'audit');
  step('users-permissions-audit');

  // 11b. Every width people use: a 1280 × 800 laptop, a 390 × 844 phone and
  // a wide screen, with 30+ keys, a 200-character name and unicode names.
  // No page scrolls sideways and every row action is in view, under the
  // pointer and focusable.
  const longName = 'Quarterly reconciliation exporter for the accounts payable team in the Frankfurt office, '
    + 'running nightly against the ledger, the bank feeds and the card processor settlement files of every subsidiary.';
  check(longName.length === 200 || (() => { throw new Error('long name is ' + longName.length); })(), 'a 200-character name');
  const unbroken = 'x'.repeat(200);
  const extra = [longName, unbroken, 'Zahlungsdienst für Kunden 🔑 Ünïcödé', '東京の請求サービス・本番環境', 'خدمة الفواتير للإنتاج', 'Ñandú — paiement / réconciliation'];
  for (const [i, name] of extra.entries()) {
    const k = await api('POST', '/v1/apikeys', admin, { name, description: i === 0 ? longName + ' ' + longName.slice(0, 100) : 'ünïcödé description ' + i,
      permissions: [{ name: 'apikeys:read' }, { name: 'orders:read' }, { name: 'audit:read' }], expiresIn: 86400 * 30 });
    check(k.status === 201, 'creating a long or unicode key: ' + k.status + JSON.stringify(k.json));
    // Usage by outcome for the chart and the sparklines: valid verifications,
    // refusals for missing permissions, and the key's own requests.
    for (let j = 0; j < 3 + 2 * i; j++) {
      const v = await api('POST', '/v1/keys/verify', admin, { key: k.json.clientSecret, permissions: j % 3 === 2 ? ['orders:write'] : [] });
      check(v.status === 200 && v.json.code === (j % 3 === 2 ? 'INSUFFICIENT_PERMISSIONS' : 'VALID'), 'verify: ' + JSON.stringify(v.json));
    }
    check(await whoami(k.json.clientSecret) === 200, 'the key authenticates');
  }
  const longId = (await api('GET', '/v1/apikeys?q=' + encodeURIComponent('Quarterly'), admin)).json.items[0].id;
  // A change the audit log shows field by field, old → new, with a unicode
  // name; a rotation whose new secret must not appear anywhere in the log.
  const uni = (await api('GET', '/v1/apikeys?q=' + encodeURIComponent('Ñandú'), admin)).json.items[0];
  const changed = await api('PATCH', '/v1/apikeys/' + uni.id, admin, { name: 'Ñandú — paiement / réconciliation 2', level: 3,
    permissions: [{ name: 'apikeys:read' }, { name: 'orders:read' }] });
  check(changed.status === 200, 'changing the unicode key: ' + changed.status);
  const again = await api('PATCH', '/v1/apikeys/' + uni.id, admin, { name: 'Ñandú — paiement / réconciliation' });
  check(again.status === 200, 'renaming it back: ' + again.status);
  const rotatedSecret = (await api('POST', `/v1/apikeys/${uni.id}/rotate`, admin, {})).json.clientSecret;
  check(rotatedSecret && rotatedSecret.includes('_sk_'), 'the rotation answers a secret');
  await new Promise(r => setTimeout(r, 2500)); // counts reach the database every 2 s
  const usage = (await api('GET', `/v1/apikeys/${longId}/usage`, admin)).json;
  check(usage.outcomes.VALID === 3 && usage.outcomes.INSUFFICIENT_PERMISSIONS === 1, 'the long key\'s usage by outcome: ' + JSON.stringify(usage.outcomes));
  // The chart and the sparklines say the same, in pictures and in words.
  const usageChecks = async (pg, tag) => {
    await pg.goto(base + '/console/keys?sort=-name');
    const sparks = await pg.locator('tbody svg.spark').count();
    check(sparks === 20, `a sparkline on every row at ${tag}: ${sparks}`);
    const label = await (await row(pg, 'Ñandú — paiement / réconciliation')).locator('svg.spark').getAttribute('aria-label');
    check(label === 'Last 14 days: 14 verifications, 10 valid, 4 refused', 'the sparkline says what it shows: ' + label);
    const box = await (await row(pg, 'Ñandú — paiement / réconciliation')).locator('svg.spark').boundingBox();
    check(box && box.width >= 60 && box.height >= 16, 'the sparkline is drawn: ' + JSON.stringify(box));
    await pg.goto(base + '/console/keys/' + longId);
    const chart = pg.locator('figure.usage svg.chart');
    check(await chart.count() === 1, 'the key page has a chart at ' + tag);
    const chartLabel = await chart.getAttribute('aria-label');
    check(chartLabel.startsWith('4 verifications in the last 14 days: 3 valid, 1 insufficient permissions'), 'the chart says what it shows: ' + chartLabel);
    check(await pg.locator('figure.usage rect.seg.o-valid').count() === 1 && await pg.locator('figure.usage rect.seg.o-perms').count() === 1, 'one valid and one refused segment today');
    check(await pg.locator('.legend li').count() === 9, 'the legend names every outcome');
    const cbox = await chart.boundingBox();
    check(cbox && cbox.width > 200 && cbox.width <= pg.viewportSize().width, 'the chart fits: ' + JSON.stringify(cbox));
    await pg.click('details.usage-table summary');
    const today = await pg.locator('table.numbers tbody tr').last().locator('td').allTextContents();
    check(today.join(' ') === '3 1 0 0 0 0 0 0 0 4', 'the table has today\'s numbers: ' + today.join(' '));
  };
  const layout = async (pg, name) => {
    const r = await pg.evaluate(() => {
      const bad = [];
      const doc = document.documentElement;
      if (doc.scrollWidth > window.innerWidth) bad.push(`page is ${doc.scrollWidth} px wide in a ${window.innerWidth} px window`);
      document.querySelectorAll('.table-wrap').forEach(w => {
        if (w.scrollWidth > w.clientWidth + 1) bad.push(`a table scrolls sideways: ${w.scrollWidth} > ${w.clientWidth}`);
      });
      const actions = [...document.querySelectorAll('td.row-actions a, td.row-actions button')];
      for (const el of actions) {
        el.scrollIntoView({ block: 'center', inline: 'nearest' });
        const b = el.getBoundingClientRect();
        const label = el.getAttribute('aria-label') || el.textContent.trim();
        if (b.width < 24 || b.height < 24) { bad.push(`${label}: ${b.width}×${b.height} px`); continue; }
        if (b.left < 0 || b.right > window.innerWidth) { bad.push(`${label}: off-screen (${Math.round(b.left)}..${Math.round(b.right)})`); continue; }
        const hit = document.elementFromPoint(b.left + b.width / 2, b.top + b.height / 2);
        if (!hit || !(hit === el || el.contains(hit))) bad.push(`${label}: covered by ${hit && hit.outerHTML.slice(0, 80)}`);
        el.focus();
        if (document.activeElement !== el) bad.push(`${label}: not focusable`);
      }
      window.scrollTo(0, 0);
      return { bad, actions: actions.length };
    });
    check(r.bad.length === 0, `layout of ${name}: ${r.bad.join('; ')}`);
    out.layout[name] = r.actions;
    return r.actions;
  };
  const widths = [{ w: 1280, h: 800, tag: '1280' }, { w: 390, h: 844, tag: '390' }, { w: 1920, h: 1080, tag: 'wide' }];
  for (const { w, h, tag } of widths) {
    await page.setViewportSize({ width: w, height: h });
    // Name Z-A puts the unicode and long names on the first page (the test
    // clock stands still, so every key was created at the same time).
    await page.goto(base + '/console/keys?sort=-name');
    check(await page.locator('tbody tr').count() === 20, 'a full page of keys at ' + tag);
    check(await layout(page, 'keys-' + tag) >= 20 * 5, 'five actions on each of 20 rows at ' + tag);
    const nameBox = await (await row(page, 'Ñandú — paiement / réconciliation')).locator('a.strong').boundingBox();
    check(nameBox && nameBox.width > 0, 'a unicode name is shown at ' + tag);
    await shot(page, `20-keys-${tag}`);
    if (tag === '390') { // the first rows as a phone shows them, sparklines included
      await page.locator('tbody tr').first().scrollIntoViewIfNeeded();
      const file = path.join(cfg.artifacts, '20b-keys-390-rows.png');
      await page.screenshot({ path: file });
      out.screenshots.push(file);
    }
    await page.goto(base + '/console/keys?sort=-lastUsedAt');
    await layout(page, 'keys-by-last-used-' + tag);
    await page.goto(base + '/console/keys?q=' + encodeURIComponent('x'.repeat(50)));
    await layout(page, 'keys-unbroken-' + tag);
    await usageChecks(page, tag);
    await layout(page, 'key-long-' + tag);
    await shot(page, `21-key-long-${tag}`);
    if (tag === '1280') await axe(page, 'key-chart-1280');
    await page.goto(base + '/console/keys/' + longId + '/edit');
    await layout(page, 'key-edit-' + tag);
    await shot(page, `27-key-edit-${tag}`);
    await page.goto(base + '/console/users');
    await layout(page, 'users-' + tag);
    await shot(page, `22-users-${tag}`);
    await page.goto(base + '/console/permissions');
    await layout(page, 'permissions-' + tag);
    await shot(page, `26-permissions-${tag}`);
    await page.goto(base + '/console/audit');
    await layout(page, 'audit-' + tag);
    await shot(page, `23-audit-${tag}`);
    await page.goto(base + '/console/audit?action=apikey.update');
    await layout(page, 'audit-changes-' + tag);
    const lines = await page.locator('ul.changes li').allTextContents();
    for (const want of ['name: “Ñandú — paiement / réconciliation” → “Ñandú — paiement / réconciliation 2”', 'level: 0 → 3',
      'permissions: −audit:read', 'name: “Ñandú — paiement / réconciliation 2” → “Ñandú — paiement / réconciliation”']) {
      check(lines.includes(want), `the audit log at ${tag} shows "${want}": ` + JSON.stringify(lines));
    }
    check(!(await page.content()).includes(rotatedSecret.split('_sk_')[1]), 'no secret in the audit log');
    const overlaps = await page.evaluate(() => [...document.querySelectorAll('ul.changes')].filter(ul => {
      const code = ul.closest('td').querySelector('code').getBoundingClientRect();
      return ul.getBoundingClientRect().top < code.bottom - 1; // the lines go under the action, never beside it
    }).length);
    check(overlaps === 0, `the change lines overlap the action at ${tag}: ${overlaps}`);
    await shot(page, `23b-audit-changes-${tag}`);
    if (tag === '390') await axe(page, 'audit-changes-phone');
    await page.goto(base + '/console/tenants');
    await layout(page, 'tenants-' + tag);
    await shot(page, `25-tenants-${tag}`);
    if (tag === '390') {
      for (const [screen, p] of [['key-phone', '/console/keys/' + longId], ['key-edit-phone', '/console/keys/' + longId + '/edit'],
        ['users-phone', '/console/users'], ['permissions-phone', '/console/permissions'], ['audit-phone', '/console/audit'],
        ['tenants-phone', '/console/tenants']]) {
        await page.goto(base + p);
        await axe(page, screen);
      }
      await page.goto(base + '/console/keys?sort=-name');
      await axe(page, 'keys-phone');
      await page.goto(base + '/console/keys/new');
      await layout(page, 'key-new-390');
      await shot(page, '24-key-new-390');
    }
  }
  await page.setViewportSize({ width: 1440, height: 900 });
  step('widths');

  // Bulk: choose two keys, deactivate them with one confirmation naming both.
  await page.goto(base + '/console/keys?q=' + encodeURIComponent('Partner 2'));
  const bulkNames = ['Partner 21', 'Partner 22'];
  for (const n of bulkNames) await (await row(page, n)).locator('input.pick').check();
  check((await page.textContent('[data-chosen]')).includes('2 chosen'), 'the bulk bar counts the chosen keys');
  await page.click('#bulk button[value=deactivate]');
  await page.waitForSelector('ul.affected');
  const affected = await page.locator('ul.affected li').allTextContents();
  check(affected.length === 2 && bulkNames.every(n => affected.some(a => a.startsWith(n + ' ('))), 'the confirmation names both keys: ' + affected.join('; '));
  await shot(page, '17-bulk-confirm');
  await axe(page, 'bulk-confirm');
  await page.click('button:has-text("Deactivate 2 keys")');
  await page.waitForSelector('.notice').catch(async e => {
    throw new Error('no notice after the bulk action at ' + page.url() + ': ' + (await page.textContent('main')).slice(0, 300));
  });
  for (const n of bulkNames) check((await (await row(page, n)).textContent()).includes('Inactive'), n + ' is inactive after the bulk action');
  step('bulk');

  // 12. Delete after a confirmation; cancelling keeps the key.
  await page.goto(base + '/console/keys?q=Billing');
  await (await row(page, 'Billing')).locator('a[aria-label="Delete Billing"]').click();
  await confirm.waitFor({ state: 'visible' });
  check((await confirm.textContent()).includes('cannot be restored'), 'the confirmation says what deleting means');
  await shot(page, '14-confirm-delete');
  await confirm.locator('button:has-text("Cancel")').click();
  await confirm.waitFor({ state: 'hidden' });
  check(await whoami(secret2) === 200, 'cancelling keeps the key');
  await (await row(page, 'Billing')).locator('a[aria-label="Delete Billing"]').click();
  await confirm.locator('button[type=submit]').click();
  await page.waitForSelector('.notice');
  check(!(await page.content()).includes(clientId), 'the deleted key is gone from the list');
  check(await whoami(secret2) === 401, 'a deleted key is refused');
  step('delete');

  // 13. CSRF: a page on another origin posting to the console is refused.
  const before = (await api('GET', '/v1/apikeys', admin)).json;
  const attack = await context.newPage();
  const resp = await Promise.all([
    attack.waitForResponse(r => r.url().startsWith(base + '/console/keys') && r.request().method() === 'POST'),
    attack.goto(cfg.attack),
  ]).then(([r]) => r);
  out.csrfStatus = resp.status();
  check(resp.status() === 403, 'the cross-origin form post is refused: ' + resp.status());
  const after = (await api('GET', '/v1/apikeys', admin)).json;
  check(JSON.stringify(after.totalCount) === JSON.stringify(before.totalCount), 'the cross-origin post created nothing');
  await attack.close();
  // A same-origin post without the form token is refused too.
  out.noTokenStatus = await page.evaluate(async () => (await fetch('/console/keys', { method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'name=x&lifespanValue=1&lifespanUnit=hours' })).status);
  check(out.noTokenStatus === 403, 'a post without the form token is refused');
  step('csrf');

  // 14. Sign out.
  await page.click('button:has-text("Sign out")');
  await page.waitForURL(/\/console\/login/);
  check((await page.textContent('.notice')).includes('signed out'), 'signing out is confirmed');
  await page.goto(base + '/console/keys');
  check(page.url().startsWith(base + '/console/login'), 'after signing out the console asks to sign in');
  step('logout');

  // 15. A level-2 user: no write buttons, and a forced post is refused.
  const viewer = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await viewer.goto(base + '/console/login');
  await viewer.fill('#userName', 'viewer');
  await viewer.fill('#password', 'viewer-password-123');
  await viewer.click('button:has-text("Sign in")');
  await viewer.waitForURL(base + '/console/keys');
  check(await viewer.locator('a:has-text("Add")').count() === 0, 'no Add button for level 2');
  check(await viewer.locator('nav.side >> text=Users').count() === 0, 'no Users menu for level 2');
  check((await viewer.textContent('.empty')).includes('does not let you create'), 'the empty state explains the level');
  await shot(viewer, '15-viewer-keys');
  await axe(viewer, 'viewer-keys');
  out.viewerPostStatus = await viewer.evaluate(async () => {
    const csrf = document.querySelector('input[name=csrf]').value;
    const body = new URLSearchParams({ csrf, name: 'forced', lifespanValue: '1', lifespanUnit: 'hours' });
    return (await fetch('/console/keys', { method: 'POST', body })).status;
  });
  check(out.viewerPostStatus === 403, 'a level-2 user posting a key gets 403: ' + out.viewerPostStatus);
  await viewer.goto(base + '/console/keys/new');
  check((await viewer.textContent('h1')).includes('Not allowed'), 'the add form is refused with a page that says so');
  await shot(viewer, '16-viewer-forbidden');
  step('permission-denied');
  check(scriptErrors.length === 0, 'no script errors: ' + scriptErrors.join('; '));
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
