import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, portOpen } from './processes.js';

/**
 * A Kafka broker (KRaft, broker+controller in one JVM) that a test owns, so it can stop and restart it (outage
 * tests) without touching the shared one. Uses the jars scripts/kafka/test-kafka.sh put in the cache.
 */
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const kafkaVersion = /<kafka.version>(.*)<\/kafka.version>/.exec(readFileSync(join(repoRoot, 'scripts/kafka/pom.xml'), 'utf8'))![1];
export const kafkaLibs = join(process.env.RECSYS_TEST_CACHE ?? join(homedir(), '.cache/recsys-test-servers'), `kafka-${kafkaVersion}`, 'libs');

export interface OwnedKafka {
  readonly brokers: string;
  start(): Promise<void>;
  /** SIGKILL: the broker disappears as in a crash; start() brings it back with its data. */
  stop(): Promise<void>;
}

export async function ownedKafka(): Promise<OwnedKafka> {
  const dir = mkdtempSync(join(tmpdir(), 'recsys-kafka-'));
  const [port, controllerPort] = [await freePort(), await freePort()];
  const properties = join(dir, 'server.properties');
  writeFileSync(
    properties,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.bootstrap.servers=127.0.0.1:${controllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      `log.dirs=${join(dir, 'data')}`,
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=2',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'share.coordinator.state.topic.replication.factor=1',
      'group.initial.rebalance.delay.ms=0',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'log4j2.properties'), 'rootLogger.level = warn\n');
  const java = ['-Xms64m', '-Xmx384m', `-Dlog4j2.configurationFile=${join(dir, 'log4j2.properties')}`, '-cp', `${kafkaLibs}/*`];
  const clusterId = execFileSync('java', [...java, 'kafka.tools.StorageTool', 'random-uuid'], { encoding: 'utf8' }).trim();
  execFileSync('java', [...java, 'kafka.tools.StorageTool', 'format', '--standalone', '-t', clusterId, '-c', properties], { stdio: 'ignore' });
  let child: ChildProcess | undefined;
  return {
    brokers: `127.0.0.1:${port}`,
    async start() {
      child = spawn('java', [...java, 'kafka.Kafka', properties], { stdio: 'ignore' });
      const deadline = Date.now() + 90_000;
      while (!(await portOpen(port))) {
        if (child.exitCode !== null) throw new Error(`kafka exited with ${child.exitCode}`);
        if (Date.now() > deadline) throw new Error('kafka did not open its port in 90 s');
        await sleep(200);
      }
    },
    async stop() {
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}
