// MQTT.js in Node with protocolVersion 5 and topicAliasMaximum: it accepts topic aliases from
// the broker, resolves them (and refuses an alias it never allowed or never saw set, closing the
// connection), so every message must arrive on its full topic, in order, while the broker
// sends most of them as an alias with an empty topic. A second subscriber without
// topicAliasMaximum must get no alias at all.
// Usage: node mqttjs_v5_aliases.mjs MQTT_URL
// Prints "ok" and exits 0 on success; exits 1 with a reason otherwise (10 s limit).
import assert from 'node:assert/strict';
import mqtt from 'mqtt';

const [url] = process.argv.slice(2);
const fail = (why) => { console.error('FAIL:', why); process.exit(1); };
setTimeout(() => fail('timed out'), 10000).unref();
const base = `js5alias/${process.pid}-${Date.now()}`;

const connect = (clientId, topicAliasMaximum) => new Promise((resolve, reject) => {
  const properties = topicAliasMaximum ? { topicAliasMaximum } : undefined;
  const c = mqtt.connect(url, { clientId, protocolVersion: 5, properties, reconnectPeriod: 0, connectTimeout: 5000 });
  c.once('connect', () => resolve(c));
  c.once('error', reject);
});

try {
  const sub = await connect(`${base}-sub`, 4);
  const plain = await connect(`${base}-plain`);
  const pub = await connect(`${base}-pub`);
  sub.on('close', () => fail('the aliased subscriber was disconnected'));
  const topics = [
    'homeassistant/sensor/0x00158d0001a2b3c4/temperature/state',
    'homeassistant/sensor/0x00158d0001a2b3c4/humidity/state',
    'zigbee2mqtt/Living Room Motion Sensor/availability',
    'zigbee2mqtt/Kitchen Light/state',
    'zigbee2mqtt/Hall Door Sensor',
    'zigbee2mqtt/Bathroom Thermostat/state',
  ].map((t) => `${base}/${t}`);
  const rounds = 5;
  const expected = [];
  for (let r = 0; r < rounds; r++) for (const t of topics) expected.push(`${t}|${r}`);

  const received = { sub: [], plain: [] };
  const aliased = { sub: 0, plain: 0 };
  const done = { sub: null, plain: null };
  const all = (name, c) => new Promise((resolve) => {
    done[name] = resolve;
    c.on('packetreceive', (p) => {
      if (p.cmd === 'publish' && p.properties?.topicAlias !== undefined) aliased[name] += 1;
    });
    c.on('message', (t, payload) => {
      received[name].push(`${t}|${payload}`);
      if (received[name].length === expected.length) resolve();
    });
  });
  const subDone = all('sub', sub);
  const plainDone = all('plain', plain);
  await sub.subscribeAsync(`${base}/#`, { qos: 1 });
  await plain.subscribeAsync(`${base}/#`, { qos: 1 });
  for (let r = 0; r < rounds; r++) {
    for (const t of topics) await pub.publishAsync(t, String(r), { qos: 1 });
  }
  await subDone;
  await plainDone;
  assert.deepEqual(received.sub, expected, 'the aliased subscriber got every topic in full, in order');
  assert.deepEqual(received.plain, expected, 'the plain subscriber too');
  assert.equal(aliased.plain, 0, 'no alias for a client without topicAliasMaximum');
  // 4 aliases: the first four topics keep theirs; the other two come back every round and
  // take over the least recently used ones, so most messages carry an alias.
  assert.ok(aliased.sub >= expected.length / 2, `only ${aliased.sub} of ${expected.length} aliased`);
  sub.removeAllListeners('close');
  await Promise.all([sub.endAsync(), plain.endAsync(), pub.endAsync()]);
  console.log('ok');
  process.exit(0);
} catch (e) {
  fail(e?.stack ?? e);
}
