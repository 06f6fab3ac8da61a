/**
 * The DeadLetterRuntime contract (src/engine/runtime.ts), checked on every registered dead-letter
 * destination as a user gets it: its YAML compiled into a plan, its runtime made by its registered
 * `create`. What it stored is read back from the medium and compared with what it was given.
 */
import type { TSchema } from '@sinclair/typebox';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { components } from '../../src/components/registry.js';
import type { DeadLetterSpec } from '../../src/components/spec.js';
import type { DeadLetterRuntime, WrittenDeadLetter } from '../../src/engine/runtime.js';
import { requireStack } from '../helpers/stack.js';
import type { DeadLetterCheck, DeadLetterFixture, DeadLetterHarness } from './harness.js';
import { deadLetterHarnesses } from './harnesses.js';
import { contextFor, create, planAround, workDir } from './support.js';

const TEST_TIMEOUT_MS = 120_000;
const AT = '2026-01-01T00:00:01.000Z';

/** One of each shape a dead letter takes: bytes in base64, a cut-off record, a tombstone, characters JSON escapes. */
const LETTERS: WrittenDeadLetter[] = [
  { reason: 'invalid-json', detail: 'Unexpected end of JSON input', partition: 'in.jsonl', offset: 0, payload: '{"t":', at: AT },
  {
    reason: 'invalid-utf8',
    detail: 'not UTF-8',
    partition: 'events/1',
    offset: 17,
    payload: Buffer.from([0xff, 0xfe, 0x41]).toString('base64'),
    payloadEncoding: 'base64',
    at: AT,
  },
  {
    reason: 'too-large',
    detail: 'record of 5000000 bytes',
    partition: 'events/0',
    offset: 2 ** 40,
    payload: 'x'.repeat(1024),
    size: 5_000_000,
    truncated: true,
    at: AT,
  },
  { reason: 'not-an-object', detail: 'null', partition: 'stdin', offset: 3, payload: null, at: AT },
  {
    reason: 'missing-key',
    detail: 'group key `k` is absent',
    partition: 'ç/☃',
    offset: 4,
    payload: '{"k":"\u2028 \n\t\\ é☃ 😀"}',
    at: AT,
  },
  {
    reason: 'late',
    detail: 'event time 1970-01-01T00:00:00.001Z is before the watermark',
    partition: 'events/0',
    offset: 2 ** 40 + 1,
    payload: '{"t":1}',
    at: '2026-01-01T00:00:02.000Z',
  },
];

interface Opened {
  fixture: DeadLetterFixture;
  open: () => Promise<DeadLetterRuntime>;
}

async function withDestination(
  spec: DeadLetterSpec<TSchema>,
  harness: DeadLetterHarness,
  body: (opened: Opened) => Promise<void>,
): Promise<void> {
  const { dir, remove } = workDir();
  const runtimes: DeadLetterRuntime[] = [];
  let fixture: DeadLetterFixture | undefined;
  try {
    fixture = await harness.fixture(dir);
    const plan = planAround('deadLetter', fixture.yaml);
    const made = fixture;
    const open = async () => {
      const factory = () => create(spec, plan, contextFor(plan, dir));
      const runtime = await (made.open ? made.open(factory) : factory());
      runtimes.push(runtime);
      return runtime;
    };
    await body({ fixture, open });
  } finally {
    for (const runtime of runtimes) await runtime.close().catch(() => undefined);
    await fixture?.cleanup();
    remove();
  }
}

function deadLetterTests(spec: DeadLetterSpec<TSchema>, harness: DeadLetterHarness): void {
  const check = (name: DeadLetterCheck, title: string, body: () => Promise<void>): void => {
    test(title, { todo: harness.knownViolations?.[name], timeout: TEST_TIMEOUT_MS }, body);
  };

  check('readBack', 'stores nothing until write(), then exactly what write() was given: every field, in order, once it resolves', () =>
    withDestination(spec, harness, async ({ fixture, open }) => {
      const destination = await open();
      assert.deepEqual(await fixture.readBack(), []);
      await destination.write(LETTERS);
      assert.deepEqual(await fixture.readBack(), LETTERS);
    }),
  );

  check('append', 'appends: three writes over two instances read back as one sequence, nothing lost, repeated or reordered', () =>
    withDestination(spec, harness, async ({ fixture, open }) => {
      const first = await open();
      await first.write(LETTERS.slice(0, 1));
      await first.write(LETTERS.slice(1, 4));
      await first.close();
      const second = await open();
      await second.write(LETTERS.slice(4));
      assert.deepEqual(await fixture.readBack(), LETTERS);
    }),
  );

  check('close', 'close() resolves right after create, after a write, and when called a second time', () =>
    withDestination(spec, harness, async ({ open }) => {
      const unused = await open();
      await unused.close();
      await unused.close();
      const used = await open();
      await used.write(LETTERS.slice(0, 2));
      await used.close();
      await used.close();
    }),
  );
}

test('every registered dead-letter destination has a compliance harness, and every harness a registered destination', () => {
  assert.deepEqual(Object.keys(deadLetterHarnesses).sort(), components.deadLetter.map((s) => s.name).sort());
});

for (const spec of components.deadLetter as readonly DeadLetterSpec<TSchema>[]) {
  const harness = deadLetterHarnesses[spec.name];
  if (!harness) {
    test(`dead-letter destination ${spec.name} has a harness in test/compliance/harnesses.ts`, () => {
      assert.fail(
        `dead-letter destination ${spec.name} is registered but has no entry in deadLetterHarnesses: add one to get its contract checked`,
      );
    });
    continue;
  }
  describe(`dead-letter destination ${spec.name}`, await requireStack(...harness.services), () => deadLetterTests(spec, harness));
}
