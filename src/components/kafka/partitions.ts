/**
 * How Kafka partitions are named inside Runnel, and their offsets as Kafka commits them. Kept free
 * of kafkajs, so validating a pipeline does not load the client.
 */

/** `topic/partition`: the partition id records carry and stored documents key their offsets by. */
export function partitionId(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

export function parsePartitionId(id: string): { topic: string; partition: number } {
  const slash = id.lastIndexOf('/');
  return { topic: id.slice(0, slash), partition: Number(id.slice(slash + 1)) };
}

/** A partition's offset as Kafka commits it, with the partition's event-time progress as its metadata. */
export interface CommitEntry {
  topic: string;
  partition: number;
  /** The next offset to read. */
  offset: string;
  metadata: string | null;
}

/**
 * Offsets stored up to (inclusive) as Kafka commits them: the next offset to read, per partition,
 * each with its progress (the highest event time counted up to it) as the commit's metadata, so
 * whichever runner reads on from the commit resumes the partition's lateness verdicts from there.
 */
export function committedOffsets(offsets: Iterable<readonly [string, number]>, progress: ReadonlyMap<string, number>): CommitEntry[] {
  return [...offsets].map(([id, offset]) => ({
    ...parsePartitionId(id),
    offset: String(offset + 1),
    metadata: progressMetadata(progress.get(id) ?? -Infinity),
  }));
}

/** Event-time progress as commit metadata: `{"eventTimeHigh":<epoch ms>}`, null when there is none. */
export function progressMetadata(eventTimeHigh: number): string | null {
  return Number.isFinite(eventTimeHigh) ? JSON.stringify({ eventTimeHigh }) : null;
}

/** The progress a commit's metadata records; -Infinity when it records none (no commit, or one made by another client). */
export function progressOf(metadata: string | null | undefined): number {
  if (!metadata) return -Infinity;
  try {
    const { eventTimeHigh } = JSON.parse(metadata) as { eventTimeHigh?: unknown };
    return typeof eventTimeHigh === 'number' && Number.isFinite(eventTimeHigh) ? eventTimeHigh : -Infinity;
  } catch {
    return -Infinity;
  }
}

/** A `topics` setting (one topic or a list) as a list. */
export function topicList(topics: string | string[]): string[] {
  return ([] as string[]).concat(topics);
}
