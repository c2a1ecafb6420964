// Opens keyward's API reference (/docs) in Debian's Chromium at a desktop
// and a phone viewport: no console errors or CSP violations, no failed
// request, every operation of /openapi.json on the page, nothing wider than
// the window. Usage: node docs.mjs BASE_URL. Prints one JSON object.
import { chromium } from 'playwright-core';

const base = process.argv[2];
const spec = await (await fetch(base + '/openapi.json')).json();
const ids = [];
for (const item of Object.values(spec.paths)) {
  for (const [method, op] of Object.entries(item)) {
    if (['get', 'post', 'put', 'patch', 'delete'].includes(method)) ids.push(op.operationId);
  }
}
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
  timeout: 30000,
});
const out = { operations: ids.length, viewports: {} };
try {
  for (const [name, viewport] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]]) {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    const errors = [];
    page.on('console', m => { if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text()); });
    page.on('pageerror', e => errors.push(String(e)));
    page.on('requestfailed', r => errors.push('failed: ' + r.url()));
    page.on('response', r => { if (r.status() >= 400) errors.push(`${r.status()}: ${r.url()}`); });
    const res = await page.goto(base + '/docs', { waitUntil: 'load' });
    const seen = await page.evaluate(() => ({
      articles: [...document.querySelectorAll('article[data-operation]')].map(a => a.dataset.operation),
      width: document.documentElement.scrollWidth,
      window: window.innerWidth,
      styled: getComputedStyle(document.querySelector('.method.get')).backgroundColor,
      title: document.title,
    }));
    const missing = ids.filter(id => !seen.articles.includes(id));
    out.viewports[name] = { status: res.status(), errors, missing, width: seen.width, window: seen.window,
      styled: seen.styled !== 'rgba(0, 0, 0, 0)', title: seen.title };
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
