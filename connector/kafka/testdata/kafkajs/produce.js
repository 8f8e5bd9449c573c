// Produces records with kafkajs: node produce.js <broker> <topic> <first> <count>
// Each record is a JSON bid like engine/kafka_test.go's bidJSON, with a key
// and a header, so the test can check keys and headers made it through.
const { Kafka, logLevel } = require('kafkajs');

async function main() {
  const [broker, topic, first, count] = process.argv.slice(2);
  const kafka = new Kafka({ clientId: 'sluice-test', brokers: [broker], logLevel: logLevel.ERROR });
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  const lo = Number(first), n = Number(count);
  const batch = 500;
  for (let start = lo; start < lo + n; start += batch) {
    const messages = [];
    for (let i = start; i < Math.min(start + batch, lo + n); i++) {
      messages.push({
        key: `k${i}`,
        value: JSON.stringify({ auction: i % 10, bidder: i, price: `${i}.5`, loc: { city: `c${i % 3}` } }),
        headers: { client: 'kafkajs' },
      });
    }
    await producer.send({ topic, messages });
  }
  await producer.disconnect();
}

main().catch((err) => { console.error(err); process.exit(1); });
