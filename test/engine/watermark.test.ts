/** The watermark: minimum over the partitions that handed over records within the idle timeout. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Watermarks } from '../../src/engine/watermark.js';

const MINUTE = 60_000;

function clocked(idleMs: number): {
  marks: Watermarks;
  advance: (ms: number) => void;
  chunk: (partition: string, highest: number) => void;
} {
  let now = 1_000_000;
  const marks = new Watermarks(5_000, idleMs, () => now);
  // as the processor does with a chunk: arrived, then its highest event time
  const chunk = (partition: string, highest: number) => {
    marks.arrived(partition);
    marks.setHighest(partition, highest);
  };
  return { marks, advance: (ms) => (now += ms), chunk };
}

test('a quiet partition holds the watermark back for the idle timeout, then no longer, until it speaks again', () => {
  const { marks, advance, chunk } = clocked(MINUTE);
  chunk('imps/0', 100_000);
  chunk('clicks/0', 40_000);
  assert.equal(marks.current, 35_000, 'the slowest partition');
  advance(MINUTE); // exactly the timeout: still active
  chunk('imps/0', 160_000);
  assert.equal(marks.current, 35_000);
  advance(1);
  chunk('imps/0', 161_000);
  assert.equal(marks.current, 156_000, 'clicks/0 has been quiet for longer than the timeout');
  chunk('clicks/0', 41_000);
  assert.equal(marks.current, 36_000, 'back in as soon as it hands over records');
});

test('a pause of the whole input makes no partition idle: the timeout counts from when records came again', () => {
  const { marks, advance, chunk } = clocked(MINUTE);
  chunk('a', 100_000);
  chunk('b', 70_000);
  advance(10 * MINUTE); // a broker outage
  assert.equal(marks.current, 65_000, 'everything quiet: everything counts');
  marks.arrived('a');
  marks.setHighest('a', 200_000);
  assert.equal(marks.current, 65_000, 'the first chunk back does not leave b behind');
  advance(MINUTE);
  chunk('a', 210_000);
  assert.equal(marks.current, 65_000, 'b still has its timeout, counted from the resumption');
  advance(1);
  chunk('a', 220_000);
  assert.equal(marks.current, 215_000, 'b quiet for a timeout while a delivered');
});

test('without an idle timeout a partition counts for ever', () => {
  const { marks, advance, chunk } = clocked(Infinity);
  chunk('a', 100_000);
  chunk('b', 70_000);
  advance(365 * 24 * 60 * MINUTE);
  chunk('a', 200_000);
  assert.equal(marks.current, 65_000);
});

test('a partition read again from a commit resumes from the progress recorded with it, lower or higher than what was seen', () => {
  const { marks, chunk } = clocked(MINUTE);
  chunk('a', 100_000);
  chunk('b', 300_000);
  assert.equal(marks.current, 95_000);
  marks.resume('b', 80_000); // the commit came before what this runner read of b
  assert.equal(marks.highestOf('b'), 80_000);
  assert.equal(marks.current, 75_000, 'it holds the watermark back at once');
  marks.resume('c', 500_000); // new here: another runner's commit
  assert.equal(marks.highestOf('c'), 500_000);
  marks.resume('b', -Infinity); // no progress recorded: none known
  assert.equal(marks.highestOf('b'), -Infinity);
  assert.equal(marks.current, 95_000);
});
