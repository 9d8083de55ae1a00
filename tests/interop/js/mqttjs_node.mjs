// MQTT.js in Node over ws:// against Courtier, crossing with an MQTT.js TCP client.
// Usage: node mqttjs_node.mjs ws://127.0.0.1:WSPORT/mqtt mqtt://127.0.0.1:PORT
// Prints "ok" and exits 0 on success; exits 1 with a reason otherwise (10 s limit).
import mqtt from 'mqtt';

const [wsUrl, tcpUrl] = process.argv.slice(2);
const fail = (why) => { console.error('FAIL:', why); process.exit(1); };
setTimeout(() => fail('timed out'), 10000).unref();

const connect = (url, clientId) => new Promise((resolve, reject) => {
  const c = mqtt.connect(url, { clientId, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000 });
  c.once('connect', () => resolve(c));
  c.once('error', reject);
});
const next = (client, topic) => new Promise((resolve) => {
  client.on('message', (t, payload, packet) => { if (t === topic) resolve({ payload: payload.toString(), packet }); });
});

try {
  const ws = await connect(wsUrl, 'mqttjs-ws');
  const tcp = await connect(tcpUrl, 'mqttjs-tcp');
  await ws.subscribeAsync('js/to-ws', { qos: 1 });
  await tcp.subscribeAsync('js/to-tcp', { qos: 1 });

  const atWs = next(ws, 'js/to-ws');
  await tcp.publishAsync('js/to-ws', 'hello websocket', { qos: 1 });
  const a = await atWs;
  if (a.payload !== 'hello websocket' || a.packet.qos !== 1) fail(`ws got ${JSON.stringify(a.payload)} qos ${a.packet.qos}`);

  const atTcp = next(tcp, 'js/to-tcp');
  await ws.publishAsync('js/to-tcp', Buffer.alloc(100000, 'x'), { qos: 1 }); // many frames' worth
  const b = await atTcp;
  if (b.payload.length !== 100000) fail(`tcp got ${b.payload.length} bytes`);

  // Retained message set over WebSocket, read by a new TCP client.
  await ws.publishAsync('js/retained', 'kept', { qos: 1, retain: true });
  const late = await connect(tcpUrl, 'mqttjs-late');
  const atLate = next(late, 'js/retained');
  await late.subscribeAsync('js/retained');
  const c = await atLate;
  if (c.payload !== 'kept' || !c.packet.retain) fail('retained message not delivered');

  await Promise.all([ws.endAsync(), tcp.endAsync(), late.endAsync()]);
  console.log('ok');
  process.exit(0);
} catch (e) {
  fail(e && e.stack || e);
}
