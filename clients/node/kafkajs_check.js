// Drives a Kafka broker (terrarium by default) with kafkajs 2: admin createTopics, a producer,
// and a consumer group that reads every message. One line per check; exits non-zero on failure.
//
//   node clients/node/kafkajs_check.js HOST:PORT
const { Kafka, logLevel, Partitioners } = require('kafkajs');

const broker = process.argv[2] || '127.0.0.1:19092';
const run = Math.random().toString(16).slice(2, 10);
const kafka = new Kafka({ clientId: 'kafkajs-check', brokers: [broker], logLevel: logLevel.NOTHING });

function check(name, cond, detail) {
  if (!cond) {
    console.log(`FAIL ${name}: ${JSON.stringify(detail)}`);
    process.exit(1);
  }
  console.log(`ok ${name}`);
}

(async () => {
  const topic = `kjs-${run}`;
  const admin = kafka.admin();
  await admin.connect();
  check('kafkajs admin createTopics', await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] }));
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  check('kafkajs admin metadata', meta.topics[0].partitions.length === 3, meta);
  await admin.disconnect();

  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const messages = Array.from({ length: 50 }, (_, i) => ({ key: `user${i % 5}`, value: `post ${i}` }));
  const sent = await producer.send({ topic, acks: -1, messages });
  check('kafkajs producer (acks=-1)', sent.every((r) => r.errorCode === 0), sent);
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: `kjs-group-${run}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = new Set();
  await consumer.run({ eachMessage: async ({ message }) => { seen.add(message.value.toString()); } });
  const deadline = Date.now() + 20000;
  while (seen.size < 50 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  check('kafkajs consumer group reads every message', seen.size === 50, seen.size);
  await consumer.disconnect();
  console.log('kafkajs: all checks passed');
})().catch((e) => {
  console.log(`FAIL kafkajs: ${e.message}`);
  process.exit(1);
});
