/** A topic deleted while a run reads it: the run ends with a message saying so, instead of retrying its fetches for ever. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kafkaBrokers, requireStack } from '../helpers/stack.js';
import { testKafka, waitForCaughtUp } from '../helpers/kafka.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');

describe('a Kafka topic deleted mid-run (integration)', await requireStack('kafka'), () => {
  test('the run ends with exit 1 and names the topic, within a minute of the deletion', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runnel-deleted-'));
    const topic = `runnel-deleted-${process.pid}-${Date.now().toString(36)}`;
    const group = `${topic}-group`;
    const env = { ...process.env, KAFKA_BROKERS: kafkaBrokers().join(','), RUNNEL_LOG_LEVEL: 'warn' };
    assert.equal(
      spawnSync(process.execPath, [cli, 'produce', '--topic', topic, '--count', '500', '--partitions', '2'], { env, encoding: 'utf8' })
        .status,
      0,
    );
    const pipeline = join(dir, 'deleted.yaml');
    writeFileSync(
      pipeline,
      `name: deleted
source: { kafka: { brokers: ${kafkaBrokers().join(',')}, topics: ${topic}, group: ${group} } }
batch: { interval: 200ms }
window: { tumbling: 1m }
groupBy: [publisher]
aggregate: { imps: count }
sink: { file: { path: out.jsonl } }
`,
    );
    const child = spawn(process.execPath, [cli, 'run', pipeline], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const admin = testKafka().admin();
    await admin.connect();
    try {
      await waitForCaughtUp(admin, group, topic, 60_000);
      await admin.deleteTopics({ topics: [topic] });
    } finally {
      await admin.disconnect();
    }
    const deleted = Date.now();
    const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    const code = await exited;
    clearTimeout(killer);
    assert.equal(code, 1, stderr);
    assert.ok(Date.now() - deleted < 60_000, `ended ${Date.now() - deleted} ms after the deletion`);
    const errors = stderr.split('\n').filter((l) => l.includes('"level":50') && !l.includes('"logger":"kafkajs"'));
    assert.equal(errors.length, 1, stderr);
    assert.match(errors[0], new RegExp(`Kafka topic ${topic} does not exist any more: deleted while this run read it`));
  });
});
