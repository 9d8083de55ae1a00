// MQTT.js in Node with protocolVersion 5: CONNECT properties and CONNACK, SUBACK granted QoS,
// PUBLISH properties end to end, PUBACK 0x10 (No matching subscribers), and a 3.1.1 MQTT.js client
// on the same broker.
// Usage: node mqttjs_v5.mjs SUBSCRIBER_URL PUBLISHER_URL
//   (mqtt://127.0.0.1:PORT, or ws://127.0.0.1:WSPORT/mqtt for the subscriber side)
// Prints "ok" and exits 0 on success; exits 1 with a reason otherwise (10 s limit).
import assert from 'node:assert/strict';
import mqtt from 'mqtt';

const [subUrl, pubUrl] = process.argv.slice(2);
const fail = (why) => { console.error('FAIL:', why); process.exit(1); };
setTimeout(() => fail('timed out'), 10000).unref();
const base = `js5/${process.pid}-${Date.now()}`;

const connect = (url, clientId, protocolVersion = 5) => new Promise((resolve, reject) => {
  const properties = protocolVersion === 5 ? {
    sessionExpiryInterval: 0, receiveMaximum: 50, maximumPacketSize: 1 << 20,
    requestProblemInformation: true, userProperties: { app: 'mqttjs-v5' },
  } : undefined;
  const c = mqtt.connect(url, { clientId, protocolVersion, properties, reconnectPeriod: 0, connectTimeout: 5000 });
  c.once('connect', (connack) => resolve([c, connack]));
  c.once('error', reject);
});
const next = (client, topic) => new Promise((resolve) => {
  client.on('message', (t, payload, packet) => { if (t === topic) resolve({ payload: payload.toString(), packet }); });
});

try {
  const [sub, subAck] = await connect(subUrl, `${base}-sub`);
  const [pub, pubAck] = await connect(pubUrl, `${base}-pub`);
  const [old] = await connect(pubUrl, `${base}-v4`, 4);
  assert.equal(subAck.reasonCode, 0, 'CONNACK reason code');
  assert.equal(pubAck.reasonCode, 0, 'CONNACK reason code');

  // SUBACK: one reason code per filter, the granted QoS.
  const granted = await sub.subscribeAsync({ [`${base}/a`]: { qos: 1 }, [`${base}/b`]: { qos: 2 } });
  assert.deepEqual(granted.map((g) => g.qos), [1, 2], 'granted QoS');
  await old.subscribeAsync(`${base}/a`, { qos: 1 });

  // PUBLISH properties arrive unchanged (user property keys may repeat: an array of values).
  const properties = {
    payloadFormatIndicator: true, messageExpiryInterval: 60, contentType: 'text/plain; charset=utf-8',
    responseTopic: `${base}/reply`, correlationData: Buffer.from([0, 1, 2, 255]),
    userProperties: { k: ['1', '2'], a: 'x' },
  };
  const atSub = next(sub, `${base}/a`);
  const atOld = next(old, `${base}/a`);
  const puback = await pub.publishAsync(`${base}/a`, 'hello five', { qos: 1, properties });
  assert.equal(puback?.reasonCode ?? 0, 0, 'PUBACK reason code with subscribers');
  const m = await atSub;
  assert.equal(m.payload, 'hello five');
  assert.equal(m.packet.qos, 1);
  const p = m.packet.properties;
  assert.equal(p.payloadFormatIndicator, true);
  assert.ok(p.messageExpiryInterval > 0 && p.messageExpiryInterval <= 60, `expiry ${p.messageExpiryInterval}`);
  assert.equal(p.contentType, properties.contentType);
  assert.equal(p.responseTopic, properties.responseTopic);
  assert.deepEqual(p.correlationData, properties.correlationData);
  assert.deepEqual({ ...p.userProperties }, properties.userProperties);
  // The 3.1.1 client gets the message, without properties.
  const o = await atOld;
  assert.equal(o.payload, 'hello five');
  assert.equal(o.packet.properties, undefined);

  // QoS 2 the other way, with a user property.
  const atPubQ2 = next(sub, `${base}/b`);
  await pub.publishAsync(`${base}/b`, 'qos two', { qos: 2, properties: { userProperties: { q: '2' } } });
  const q2 = await atPubQ2;
  assert.equal(q2.packet.qos, 2);
  assert.deepEqual({ ...q2.packet.properties.userProperties }, { q: "2" });

  // PUBACK 0x10 for a topic nobody subscribes to: MQTT.js does not treat it as an error (nor pass
  // the PUBACK on), so it is read from the 'packetreceive' event.
  const pubacks = [];
  pub.on('packetreceive', (packet) => { if (packet.cmd === 'puback') pubacks.push(packet.reasonCode ?? 0); });
  await pub.publishAsync(`${base}/nobody`, 'void', { qos: 1 });
  await pub.publishAsync(`${base}/a`, 'heard', { qos: 1 });
  assert.deepEqual(pubacks, [16, 0], 'PUBACK reason codes: no subscribers, then subscribers');

  await Promise.all([sub.endAsync(), pub.endAsync(), old.endAsync()]);
  console.log('ok');
  process.exit(0);
} catch (e) {
  fail(e && e.stack || e);
}
