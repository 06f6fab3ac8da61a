/** takeRecords: what a source hands out per next() is at most maxRecords, every record once and as it was. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { payloadAt, takeRecords, type Chunk } from '../../src/engine/records.js';

/** Values back to back in one buffer, as the Kafka source's chunks hold them (`é` splits a character between two values). */
function linesChunk(partition: string, values: string[], firstOffset: number): Chunk {
  const buffers = values.map((v) => Buffer.from(v));
  const starts: number[] = [];
  const ends: number[] = [];
  let at = 0;
  for (const b of buffers) {
    starts.push(at);
    ends.push((at += b.length));
  }
  const bytes = Buffer.allocUnsafeSlow(at);
  Buffer.concat(buffers).copy(bytes);
  return { partition, offsets: values.map((_, i) => firstOffset + i), payloads: [], lines: { bytes, starts, ends } };
}

function records(chunks: readonly Chunk[]): [string, number, unknown][] {
  return chunks.flatMap((c) => c.offsets.map((offset, i): [string, number, unknown] => [c.partition, offset, payloadAt(c, i)]));
}

test('takeRecords hands out at most max records per call, splitting chunks, until every record went out once and in order', () => {
  const values = Array.from({ length: 10 }, (_, i) => `{"i":${i},"s":"${'é'.repeat(i)}"}`);
  const original: Chunk[] = [
    linesChunk('t/0', values.slice(0, 7), 100),
    { partition: 't/1', offsets: [5, 6, 9], payloads: ['{"a":1}', null, '{"a":2}'] },
    linesChunk('t/0', values.slice(7), 107),
  ];
  const expected = records(original);
  for (const max of [1, 2, 3, 4, 7, 13, 100]) {
    const queue = original.map((c) => ({ ...c }));
    const handed: Chunk[] = [];
    for (let call = 0; queue.length > 0; call++) {
      const taken = takeRecords(queue, max);
      assert.ok(call < 20, 'no progress');
      assert.ok(taken.reduce((n, c) => n + c.offsets.length, 0) <= max, `max ${max}`);
      for (const chunk of taken) {
        if (chunk.lines) {
          assert.equal(chunk.payloads.length, 0);
          assert.equal(chunk.lines.starts.length, chunk.offsets.length);
          assert.equal(chunk.lines.ends.length, chunk.offsets.length);
        } else assert.equal(chunk.payloads.length, chunk.offsets.length);
        assert.ok(chunk.offsets.length > 0, 'no empty chunks');
      }
      handed.push(...taken);
    }
    assert.deepEqual(records(handed), expected, `max ${max}`);
  }
});

test('a part split off a chunk of lines owns its bytes, exactly those of its lines; the rest keeps the original memory', () => {
  const chunk = linesChunk('t/0', ['{"a":"x"}', '{"b":"é"}', '{"c":3}'], 0);
  const queue = [chunk];
  const [head] = takeRecords(queue, 2);
  assert.notEqual(head.lines!.bytes.buffer, chunk.lines!.bytes.buffer);
  assert.equal(head.lines!.bytes.byteOffset, 0);
  assert.equal(head.lines!.bytes.toString(), '{"a":"x"}{"b":"é"}');
  assert.equal(queue[0].lines!.bytes, chunk.lines!.bytes);
  assert.deepEqual(records(queue), [['t/0', 2, '{"c":3}']]);
  assert.deepEqual(takeRecords(queue, 0), []);
  assert.deepEqual(takeRecords([], 5), []);
});
