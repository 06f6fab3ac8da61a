/** A runaway expression on a Kafka source: the run stops on its own and commits nothing of the batch it was in. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kafkaBrokers, requireStack } from '../helpers/stack.js';
import { testKafka } from '../helpers/kafka.js';
import { runawayPipeline } from '../helpers/runaway.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');

describe('runaway expression on a Kafka source (integration)', await requireStack('kafka'), () => {
  test('the run ends with exit 1 and the group commits no offset', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runnel-runaway-kafka-'));
    const topic = `runnel-runaway-${process.pid}-${Date.now().toString(36)}`;
    const group = `${topic}-group`;
    const env = { ...process.env, KAFKA_BROKERS: kafkaBrokers().join(','), RUNNEL_LOG_LEVEL: 'warn' };
    const produced = spawnSync(process.execPath, [cli, 'produce', '--topic', topic, '--count', '200', '--partitions', '2'], {
      env,
      encoding: 'utf8',
    });
    assert.equal(produced.status, 0, produced.stderr);
    const pipeline = runawayPipeline(
      dir,
      `{ kafka: { brokers: ${kafkaBrokers().join(',')}, topics: ${topic}, group: ${group} } }`,
      '200ms',
    );
    const run = spawnSync(process.execPath, [cli, 'run', pipeline], { cwd: dir, env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /runaway\.yaml:5:9: the expression .* on 3 records in a row/);
    const admin = testKafka().admin();
    await admin.connect();
    try {
      const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      assert.deepEqual(committed.partitions.map((p) => p.offset).sort(), ['-1', '-1']);
    } finally {
      await admin.disconnect();
    }
    assert.equal(existsSync(join(dir, 'dead.jsonl')), false);
  });
});
