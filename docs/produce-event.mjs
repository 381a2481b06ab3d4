// Produces one interaction event to the event topic, as another Node.js service would: no code generation, the
// contract read from proto/recsys/v1/events.proto at run time (protobufjs), any Kafka client (here @platformatic/kafka).
// In another service: npm install protobufjs @platformatic/kafka, and copy proto/recsys/v1/events.proto.
//
//   KAFKA_BROKERS=127.0.0.1:9092 node docs/produce-event.mjs u1 m1
//
// README "Interaction events" -> "Producing from another service".
import { randomUUID } from 'node:crypto';
import { Producer } from '@platformatic/kafka';
import protobuf from 'protobufjs';

const [userId = 'u1', movieId = 'm1'] = process.argv.slice(2);
const root = await protobuf.load(new URL('../proto/recsys/v1/events.proto', import.meta.url).pathname);
const InteractionEvent = root.lookupType('recsys.v1.InteractionEvent');
const now = Date.now();
const event = InteractionEvent.fromObject({
  eventId: randomUUID(), // keep the same id when retrying a send: the consumers apply each id once
  userId,
  movieId,
  type: 'INTERACTION_TYPE_WATCHED',
  completed: true,
  occurredAt: { seconds: Math.floor(now / 1000), nanos: (now % 1000) * 1e6 },
});
const producer = new Producer({ clientId: 'example-producer', bootstrapBrokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','), idempotent: true, acks: -1 });
try {
  await producer.send({
    messages: [
      {
        topic: process.env.EVENTS_TOPIC ?? 'recsys.interactions.v1',
        key: Buffer.from(userId), // key = user id: one user's events stay in order
        value: Buffer.from(InteractionEvent.encode(event).finish()),
      },
    ],
  });
  console.log(`produced ${event.eventId}: ${userId} watched ${movieId}`);
} finally {
  await producer.close();
}
