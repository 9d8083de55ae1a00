// A real browser through Courtier: Debian's headless Chromium (driven by playwright-core, which
// downloads nothing) loads page.html, which uses the MQTT.js browser bundle over ws:// to
// subscribe and publish. An MQTT.js TCP client in Node talks to the page through the broker.
// Usage: node browser.mjs ws://127.0.0.1:WSPORT/mqtt mqtt://127.0.0.1:PORT
// Prints "ok" and exits 0 on success (30 s limit).
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import mqtt from 'mqtt';

const [wsUrl, tcpUrl] = process.argv.slice(2);
const here = path.dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
let browser;
const fail = async (why) => {
  console.error('FAIL:', why);
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
};
setTimeout(() => fail('timed out'), 30000).unref();

// The test's own static server: the page and the bundle, nothing else.
const files = {
  '/': ['page.html', 'text/html'],
  '/mqtt.min.js': ['node_modules/mqtt/dist/mqtt.min.js', 'text/javascript'],
};
const server = http.createServer((req, res) => {
  const f = files[new URL(req.url, 'http://x').pathname];
  if (!f) { res.writeHead(req.url === '/favicon.ico' ? 204 : 404).end(); return; }
  res.writeHead(200, { 'content-type': f[1] });
  fs.createReadStream(path.join(here, f[0])).pipe(res);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const pageUrl = `http://127.0.0.1:${server.address().port}/?broker=${encodeURIComponent(wsUrl)}`;

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'courtier-chromium-'));
try {
  // A fresh profile directory each run (playwright passes it as --user-data-dir).
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  const page = browser.pages()[0] || await browser.newPage();
  page.on('console', (m) => console.error('[page]', m.text()));
  await page.goto(pageUrl);
  await page.waitForFunction(() => window.state.subscribed || window.state.error, null, { timeout: 10000 });
  const err = await page.evaluate(() => window.state.error);
  if (err) await fail('page: ' + err);

  const tcp = await new Promise((resolve, reject) => {
    const c = mqtt.connect(tcpUrl, { clientId: 'browser-peer', reconnectPeriod: 0 });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
  await tcp.subscribeAsync('browser/out', { qos: 1 });
  const echoed = new Promise((r) => tcp.on('message', (t, p) => r(p.toString())));
  await tcp.publishAsync('browser/in', 'from tcp', { qos: 1 });
  const echo = await echoed;
  if (echo !== 'echo: from tcp') await fail(`echo was ${JSON.stringify(echo)}`);
  const received = await page.evaluate(() => window.state.received);
  if (received.length !== 1 || received[0] !== 'from tcp') await fail(`page received ${received}`);
  await tcp.endAsync();
  await browser.close();
  console.log('ok');
  process.exit(0);
} catch (e) {
  await fail(e && e.stack || e);
} finally {
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
