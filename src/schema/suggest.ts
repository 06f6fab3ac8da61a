import { distance } from 'fastest-levenshtein';

/** The closest candidate to a misspelt name, when it is close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const lower = word.toLowerCase();
  for (const candidate of candidates) {
    const d = distance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  // two edits for words of three or more letters (`cnt` -> `count`), one for shorter ones
  const allowed = word.length < 3 ? 1 : Math.min(3, Math.max(2, Math.floor(word.length / 3)));
  return bestDistance <= allowed ? best : undefined;
}

export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const match = closest(word, candidates);
  return match === undefined ? undefined : `did you mean \`${match}\`?`;
}

export function listOf(names: readonly string[]): string {
  return names.map((n) => `\`${n}\``).join(', ');
}
