// The dashboard's live trace (/dashboard, Trace tab) in Debian's headless Chromium, driven by
// playwright-core: a trace of a client started from the page, then that client publishes with
// mosquitto_pub: one message delivered to an MQTT.js subscriber, one denied (a publish into
// $SYS). What a user must see: each hop with its time, the denial in red with its reason, the
// delivered message's hops and the CONNACK 0x00 not red.
// Usage: node dashboard_trace.mjs http://127.0.0.1:HTTPPORT mqtt://127.0.0.1:PORT SCREENSHOT_DIR
// Prints "ok" and exits 0 on success (60 s limit); screenshots are kept in SCREENSHOT_DIR.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import mqtt from 'mqtt';

const [httpUrl, tcpUrl, shots] = process.argv.slice(2);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const { hostname, port } = new URL(tcpUrl);
const publisher = `dash-switch-${process.pid}`;
const topic = `home/${publisher}/light`;
let browser;
const fail = async (why) => {
  console.error('FAIL:', why);
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
};
setTimeout(() => fail('timed out'), 60000).unref();
fs.mkdirSync(shots, { recursive: true });
const mosquittoPub = (t, m) => execFileSync('mosquitto_pub',
  ['-h', hostname, '-p', port, '-i', publisher, '-q', '1', '-t', t, '-m', m], { timeout: 10000 });

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'courtier-dashboard-'));
try {
  const lamp = await new Promise((resolve, reject) => {
    const c = mqtt.connect(tcpUrl, { clientId: `dash-lamp-${process.pid}`, reconnectPeriod: 0 });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
  await lamp.subscribeAsync(`home/${publisher}/#`, { qos: 1 });
  const delivered = new Promise((r) => lamp.on('message', (t, p) => r(`${t} ${p}`)));

  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  const page = browser.pages()[0] || await browser.newPage();
  page.on('console', (m) => console.error('[page]', m.text()));
  await page.goto(`${httpUrl}/dashboard`);

  // Start a trace of the publisher's client id from the page.
  await page.getByRole('tab', { name: 'Trace' }).click();
  await page.getByLabel('Trace by').selectOption('client');
  await page.getByLabel('Trace what').fill(publisher);
  await page.getByRole('button', { name: 'Start' }).click();
  await page.locator('#trace-state', { hasText: `tracing ${publisher}` }).waitFor();
  // The stream is attached once the page received the trace's opening event; a moment for it.
  await page.waitForTimeout(500);

  mosquittoPub(topic, 'ON');
  mosquittoPub(`$SYS/${publisher}`, 'not allowed');
  if ((await delivered) !== `${topic} ON`) await fail('the subscriber did not get the message');

  // The denial: red, with its reason.
  const denied = page.locator('#trace-rows tr[data-outcome="denied"]');
  await denied.waitFor();
  const deniedCells = await denied.locator('td').allTextContents();
  if (deniedCells[2] !== 'sys_topic_denied') await fail(`denial reason: ${deniedCells}`);
  if (deniedCells[1] !== 'dropped (denied)') await fail(`denial hop: ${deniedCells}`);
  if (deniedCells[4] !== `$SYS/${publisher}`) await fail(`denial topic: ${deniedCells}`);
  const red = 'rgb(198, 40, 40)';
  const colour = (loc) => loc.locator('td').nth(2).evaluate((td) => getComputedStyle(td).color);
  if ((await colour(denied)) !== red) await fail(`denial shown in ${await colour(denied)}`);

  // The delivered message: every hop, each with a time, none red.
  const acked = page.locator('#trace-rows tr', { has: page.locator('td:nth-child(2)', { hasText: /^acked$/ }) });
  await acked.waitFor();
  const msgId = await acked.locator('td').nth(7).textContent();
  const rows = page.locator('#trace-rows tr', { has: page.locator('td:nth-child(8)', { hasText: new RegExp(`^${msgId}$`) }) });
  const hops = [];
  for (const r of await rows.all()) {
    const cells = await r.locator('td').allTextContents();
    hops.unshift(cells[1]);
    if (!/^\d\d:\d\d:\d\d\.\d{6}( \(\+\d+\.\d{3} ms\))?$/.test(cells[0])) await fail(`time shown as ${cells[0]}`);
    if ((await r.getAttribute('class')) === 'drop' || (await colour(r)) === red) await fail(`delivered hop in red: ${cells}`);
  }
  for (const hop of ['received', 'matched', 'queued', 'sent', 'acked']) {
    if (!hops.includes(hop)) await fail(`hop ${hop} missing from ${hops}`);
  }
  const later = await rows.first().locator('td').first().textContent();
  if (!/\(\+\d+\.\d{3} ms\)$/.test(later)) await fail(`no time since the first hop: ${later}`);

  // Connection events with a reason that is no failure: CONNACK 0x00, not red.
  const connack = page.locator('#trace-rows tr', { has: page.locator('td:nth-child(2)', { hasText: /^connack$/ }) }).first();
  if ((await connack.locator('td').nth(2).textContent()) !== '0x00') await fail('CONNACK reason not shown');
  if ((await colour(connack)) === red) await fail('CONNACK 0x00 shown as a failure');
  await page.screenshot({ path: path.join(shots, 'trace-live.png'), fullPage: true });

  // On a phone the table scrolls inside its box.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  if (width > 390) await fail(`the trace view is ${width}px wide on a 390px screen`);
  await page.screenshot({ path: path.join(shots, 'phone-trace-live.png'), fullPage: true });

  await page.getByRole('button', { name: 'Stop' }).click();
  await page.locator('#trace-state', { hasText: 'stopped' }).waitFor();
  lamp.end(true);
  await browser.close();
  console.log('ok');
  process.exit(0);
} catch (e) {
  await fail(e && e.stack || e);
} finally {
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
