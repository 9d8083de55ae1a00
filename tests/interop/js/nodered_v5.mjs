// Node-RED (embedded runtime, no editor, no HTTP listener) with an mqtt-broker config node speaking
// MQTT 5.0: an echo flow  mqtt in (PREFIX/in) -> function -> mqtt out (PREFIX/out).
// The function replies with what it received (payload, user properties, content type) as JSON, and
// sets its own user property and content type on the reply.
// Usage: node nodered_v5.mjs HOST PORT PREFIX USERDIR
// Prints "ready" once the flow is started, then runs until killed (60 s limit).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import RED from 'node-red';

const [host, port, prefix, userDir] = process.argv.slice(2);
setTimeout(() => { console.error('FAIL: timed out'); process.exit(1); }, 60000).unref();

const flows = [
  { id: 'tab1', type: 'tab', label: 'v5 echo' },
  {
    id: 'broker1', type: 'mqtt-broker', name: 'broker under test', broker: host, port,
    clientid: '', autoConnect: true, usetls: false, protocolVersion: '5', keepalive: '15',
    cleansession: true, autoUnsubscribe: true, sessionExpiry: '', userProps: '',
    birthTopic: '', closeTopic: '', willTopic: '',
  },
  {
    id: 'in1', type: 'mqtt in', z: 'tab1', name: '', topic: `${prefix}/in`, qos: '1', datatype: 'utf8',
    broker: 'broker1', nl: false, rap: true, rh: 0, inputs: 0, wires: [['fn1']],
  },
  {
    id: 'fn1', type: 'function', z: 'tab1', name: 'echo', outputs: 1, wires: [['out1']],
    func: [
      'msg.payload = JSON.stringify({ got: msg.payload, userProperties: msg.userProperties,',
      '                               contentType: msg.contentType });',
      'msg.topic = msg.topic.replace(/\\/in$/, "/out");',
      'msg.userProperties = { via: "node-red" };',
      'msg.contentType = "application/json";',
      'return msg;',
    ].join('\n'),
  },
  {
    id: 'out1', type: 'mqtt out', z: 'tab1', name: '', topic: '', qos: '1', retain: 'false',
    respTopic: '', contentType: '', userProps: '', correl: '', expiry: '', broker: 'broker1', wires: [],
  },
];

fs.mkdirSync(userDir, { recursive: true });
fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flows));
const settings = {
  userDir, flowFile: 'flows.json', httpAdminRoot: false, httpNodeRoot: false, disableEditor: true,
  credentialSecret: false, logging: { console: { level: 'warn', metrics: false, audit: false } },
  telemetry: { enabled: false }, diagnostics: { enabled: false }, externalModules: { palette: { allowInstall: false } },
};
RED.init(http.createServer(), settings); // the server is never listened on
await RED.start();
console.log('ready');
