/** The median of the runs of a benchmark (the upper middle one of an even count): what every bench reports. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}
