// MQTT.js in Node over mqtts:// (MQTT over TLS) with a user name and password, trusting the
// test's CA; a wrong password must be refused.
// Usage: node mqttjs_tls.mjs mqtts://localhost:PORT CA_PEM_FILE USER PASSWORD
// Prints "ok" and exits 0 on success; exits 1 with a reason otherwise (15 s limit).
import fs from 'node:fs';
import mqtt from 'mqtt';

const [url, caFile, username, password] = process.argv.slice(2);
const ca = fs.readFileSync(caFile);
const fail = (why) => { console.error('FAIL:', why); process.exit(1); };
setTimeout(() => fail('timed out'), 15000).unref();

const connect = (clientId, pw) => new Promise((resolve, reject) => {
  const c = mqtt.connect(url, {
    clientId, username, password: pw, ca, rejectUnauthorized: true,
    protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000,
  });
  c.once('connect', () => resolve(c));
  c.once('error', (e) => { c.end(true); reject(e); });
});

try {
  const sub = await connect('mqttjs-tls-sub', password);
  const pub = await connect('mqttjs-tls-pub', password);
  await sub.subscribeAsync('tls/js', { qos: 1 });
  const got = new Promise((r) => sub.on('message', (t, p, packet) => r({ p: p.toString(), qos: packet.qos })));
  await pub.publishAsync('tls/js', 'over mqtts', { qos: 1 });
  const m = await got;
  if (m.p !== 'over mqtts' || m.qos !== 1) fail(`got ${JSON.stringify(m)}`);
  let refused = false;
  try { await connect('mqttjs-tls-bad', password + '-wrong'); } catch (e) {
    refused = /Not authorized|Bad username or password|code 5|4/.test(String(e && e.message));
    if (!refused) fail(`wrong password: unexpected error ${e && e.message}`);
  }
  if (!refused) fail('a wrong password was accepted');
  await sub.endAsync();
  await pub.endAsync();
  console.log('ok');
  process.exit(0);
} catch (e) {
  fail(e && e.stack || e);
}
