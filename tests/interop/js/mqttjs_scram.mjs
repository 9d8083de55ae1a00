// MQTT.js with SCRAM-SHA-512 enhanced authentication (MQTT 5.0 AUTH): the client-first-message in
// CONNECT's properties.authenticationData, the client-final-message from MQTT.js's handleAuth
// hook, the server signature checked in CONNACK; then a re-authentication (AUTH 0x19) on the same
// connection, ending in AUTH 0x00 with a server signature. The SCRAM client side uses Node's crypto.
// Usage: node mqttjs_scram.mjs mqtt://127.0.0.1:PORT USER PASSWORD
// Prints "ok" and exits 0 on success; exits 1 with a reason otherwise (10 s limit).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import mqtt from 'mqtt';

const [url, user, password] = process.argv.slice(2);
const fail = (why) => { console.error('FAIL:', why); process.exit(1); };
setTimeout(() => fail('timed out'), 10000).unref();
const METHOD = 'SCRAM-SHA-512';
const hmac = (key, msg) => crypto.createHmac('sha512', key).update(msg).digest();

class Scram {
  constructor() { this.bare = `n=${user},r=${crypto.randomBytes(18).toString('base64')}`; }
  first() { return Buffer.from(`n,,${this.bare}`); }
  final(serverFirst) {
    const sf = serverFirst.toString();
    const a = Object.fromEntries(sf.split(',').map((kv) => [kv[0], kv.slice(2)]));
    assert.ok(a.r.startsWith(this.bare.split('r=')[1]), 'server nonce extends the client nonce');
    this.salted = crypto.pbkdf2Sync(password, Buffer.from(a.s, 'base64'), Number(a.i), 64, 'sha512');
    const clientKey = hmac(this.salted, 'Client Key');
    const withoutProof = `c=biws,r=${a.r}`;
    this.authMessage = `${this.bare},${sf},${withoutProof}`;
    const sig = hmac(crypto.createHash('sha512').update(clientKey).digest(), this.authMessage);
    const proof = Buffer.from(clientKey.map((b, i) => b ^ sig[i]));
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`);
  }
  proven(serverFinal) {
    const v = hmac(hmac(this.salted, 'Server Key'), this.authMessage).toString('base64');
    return serverFinal.toString() === `v=${v}`;
  }
}

let scram = new Scram();
let reauthenticated;
const done = new Promise((resolve) => { reauthenticated = resolve; });
const client = mqtt.connect(url, {
  protocolVersion: 5, clientId: `scram-js-${process.pid}`, reconnectPeriod: 0, connectTimeout: 5000,
  properties: { authenticationMethod: METHOD, authenticationData: scram.first() },
});
client.handleAuth = (packet, callback) => {
  const data = packet.properties?.authenticationData;
  if (packet.reasonCode === 0) { // end of a re-authentication
    if (!scram.proven(data)) fail('AUTH 0x00 server signature wrong');
    reauthenticated();
    return callback(null);
  }
  callback(null, {
    cmd: 'auth', reasonCode: 0x18,
    properties: { authenticationMethod: METHOD, authenticationData: scram.final(data) },
  });
};
client.on('error', (e) => fail(`error: ${e.message}`));
client.once('connect', async (connack) => {
  try {
    assert.equal(connack.reasonCode, 0, 'CONNACK reason code');
    assert.equal(connack.properties?.authenticationMethod, METHOD, 'CONNACK names the method');
    assert.ok(scram.proven(connack.properties.authenticationData), 'CONNACK server signature');
    await client.subscribeAsync(`scram-js/${process.pid}`, { qos: 1 });
    scram = new Scram();
    client._sendPacket({
      cmd: 'auth', reasonCode: 0x19,
      properties: { authenticationMethod: METHOD, authenticationData: scram.first() },
    });
    await done;
    await client.publishAsync(`scram-js/${process.pid}`, 'after re-auth', { qos: 1 });
    await client.endAsync();
    console.log('ok');
    process.exit(0);
  } catch (e) {
    fail(e.message);
  }
});
