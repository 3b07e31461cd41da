// Independent reader for the kafka storage tests: kafkajs (not librdkafka) consumes a topic from
// the beginning and prints what it read as ONE JSON line on stdout, bytes as base64:
//   [{"partition":0,"offset":"0","key":"<b64>","value":"<b64>","headers":[["payload","<b64>"],...]}]
// usage: node consume.js BROKERS TOPIC EXPECTED_COUNT TIMEOUT_MS
// It stops when EXPECTED_COUNT records were read, plus a short quiet period to catch extra
// (duplicate) records, or at TIMEOUT_MS with whatever it has. kafkajs logs go to stderr.
'use strict';
const { Kafka, logLevel } = require('kafkajs');

const [brokers, topic, expectedArg, timeoutArg] = process.argv.slice(2);
if (!brokers || !topic) {
  process.stderr.write('usage: node consume.js BROKERS TOPIC EXPECTED_COUNT TIMEOUT_MS\n');
  process.exit(2);
}
const expected = Number(expectedArg || 0);
const timeoutMs = Number(timeoutArg || 20000);
const quietMs = 1000;

const kafka = new Kafka({
  clientId: 'chainsd-kafka-test-reader',
  brokers: brokers.split(','),
  logLevel: logLevel.WARN,
  logCreator: () => ({ namespace, level, log }) =>
    process.stderr.write(`kafkajs ${namespace} ${level}: ${log.message}\n`),
});

const b64 = (buf) => (buf === null || buf === undefined ? null : Buffer.from(buf).toString('base64'));

async function main() {
  const consumer = kafka.consumer({ groupId: `chainsd-test-${process.pid}-${Date.now()}` });
  const records = [];
  let finish;
  const done = new Promise((resolve) => { finish = resolve; });
  let quiet = null;
  const timer = setTimeout(() => finish(), timeoutMs);

  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const headers = [];
      for (const [name, value] of Object.entries(message.headers || {})) {
        for (const v of Array.isArray(value) ? value : [value]) headers.push([name, b64(v)]);
      }
      records.push({ partition, offset: message.offset, key: b64(message.key), value: b64(message.value), headers });
      if (expected > 0 && records.length >= expected) {
        if (quiet) clearTimeout(quiet);
        quiet = setTimeout(() => finish(), quietMs);
      }
    },
  });
  await done;
  clearTimeout(timer);
  await consumer.disconnect();
  records.sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset));
  process.stdout.write(JSON.stringify(records) + '\n');
}

main().catch((e) => {
  process.stderr.write(`consume.js: ${e.stack || e}\n`);
  process.exit(1);
});
