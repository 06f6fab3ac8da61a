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

/** Offsets stored up to (inclusive) as Kafka commits them: the next offset to read, per partition. */
export function committedOffsets(offsets: Iterable<readonly [string, number]>): { topic: string; partition: number; offset: string }[] {
  return [...offsets].map(([id, offset]) => ({ ...parsePartitionId(id), offset: String(offset + 1) }));
}

/** A `topics` setting (one topic or a list) as a list. */
export function topicList(topics: string | string[]): string[] {
  return ([] as string[]).concat(topics);
}
