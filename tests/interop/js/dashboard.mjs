// The dashboard (/dashboard) in Debian's headless Chromium, driven by playwright-core: what a
// user sees on each tab with a real MQTT.js 5.0 client connected, disconnecting it from the
// page (the client gets DISCONNECT 0x98), and a phone-sized screen without sideways scrolling.
// Usage: node dashboard.mjs http://127.0.0.1:HTTPPORT mqtt://127.0.0.1:PORT SCREENSHOT_DIR
// Prints "ok" and exits 0 on success (60 s limit); screenshots are kept in SCREENSHOT_DIR.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import mqtt from 'mqtt';

const [httpUrl, tcpUrl, shots] = process.argv.slice(2);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const id = `dash-hall-${process.pid}`;
let browser;
const fail = async (why) => {
  console.error('FAIL:', why);
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
};
setTimeout(() => fail('timed out'), 60000).unref();
fs.mkdirSync(shots, { recursive: true });

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'courtier-dashboard-'));
try {
  const client = await new Promise((resolve, reject) => {
    const c = mqtt.connect(tcpUrl, { clientId: id, protocolVersion: 5, reconnectPeriod: 0 });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
  await client.subscribeAsync(`home/${id}/#`, { qos: 1 });
  await client.publishAsync(`home/${id}/light`, 'ON', { qos: 1, retain: true });
  const kicked = new Promise((r) => client.on('disconnect', (p) => r(p.reasonCode)));

  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1200, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  const page = browser.pages()[0] || await browser.newPage();
  page.on('console', (m) => console.error('[page]', m.text()));
  const offsite = [];
  page.on('request', (r) => { if (!r.url().startsWith(httpUrl)) offsite.push(r.url()); });
  await page.goto(`${httpUrl}/dashboard`);

  // Overview: the counts a user reads.
  const connected = page.locator('.card', { hasText: 'Clients connected' }).locator('.v');
  await connected.waitFor();
  if (Number(await connected.textContent()) < 1) await fail('no client counted as connected');
  await page.getByText('Drops by reason').waitFor();
  await page.locator('#drops tr', { hasText: 'queue_full' }).waitFor();
  await page.screenshot({ path: path.join(shots, 'overview.png'), fullPage: true });

  // Clients: search, details with the subscription.
  await page.getByRole('tab', { name: 'Clients' }).click();
  await page.getByLabel('Search clients').fill('dash-hall');
  const clientRow = page.locator('#client-rows tr', { hasText: id });
  await clientRow.waitFor();
  if (!(await clientRow.textContent()).includes('5.0')) await fail('protocol not shown');
  await clientRow.click();
  await page.locator('#detail', { hasText: `home/${id}/#` }).waitFor();
  await page.screenshot({ path: path.join(shots, 'clients.png'), fullPage: true });

  // Topics: the tree with the retained value.
  await page.getByRole('tab', { name: 'Topics' }).click();
  const value = page.locator(`.val[data-topic="home/${id}/light"]`);
  await value.waitFor();
  if ((await value.textContent()) !== 'ON') await fail('retained value not shown');
  await page.screenshot({ path: path.join(shots, 'topics.png'), fullPage: true });

  // Subscriptions.
  await page.getByRole('tab', { name: 'Subscriptions' }).click();
  await page.locator('#sub-rows tr', { hasText: `home/${id}/#` }).waitFor();

  // Trace: started against POST /api/v1/traces; says so when the broker has no tracing API.
  await page.getByRole('tab', { name: 'Trace' }).click();
  await page.getByLabel('Trace what').fill(id);
  await page.getByRole('button', { name: 'Start' }).click();
  await page.locator('#trace-state', { hasText: /tracing|cannot start a trace/ }).waitFor();
  await page.screenshot({ path: path.join(shots, 'trace.png'), fullPage: true });

  // Disconnect from the page: the client is told 0x98 and leaves the list.
  await page.getByRole('tab', { name: 'Clients' }).click();
  await clientRow.click();
  await page.getByRole('button', { name: 'Disconnect' }).click();
  const code = await kicked;
  if (code !== 0x98) await fail(`client got reason code ${code}`);
  await page.getByLabel('Search clients').fill(id);
  await page.waitForFunction((cid) => ![...document.querySelectorAll('#client-rows tr')]
    .some((tr) => tr.textContent.includes(cid)), id);

  // A phone: nothing wider than the screen, the clients table scrolls inside its box.
  await page.setViewportSize({ width: 390, height: 844 });
  for (const tab of ['Overview', 'Clients', 'Topics']) {
    await page.getByRole('tab', { name: tab }).click();
    await page.waitForTimeout(300);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    if (width > 390) await fail(`${tab} is ${width}px wide on a 390px screen`);
    await page.screenshot({ path: path.join(shots, `phone-${tab.toLowerCase()}.png`), fullPage: true });
  }
  if (offsite.length) await fail(`fetched from elsewhere: ${offsite}`);
  client.end(true);
  await browser.close();
  console.log('ok');
  process.exit(0);
} catch (e) {
  await fail(e && e.stack || e);
} finally {
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
