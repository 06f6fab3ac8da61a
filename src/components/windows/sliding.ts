import type { Static } from '@sinclair/typebox';
import type { ComponentSpec, LintIssue } from '../spec.js';
import { duration, strictObject } from '../fragments.js';
import { parseDuration } from '../../config/duration.js';

const config = strictObject('Sliding (hopping) windows.', {
  size: duration('Window size.'),
  every: duration('How often a new window starts; must divide the size.'),
});
export type SlidingWindowConfig = Static<typeof config>;

export const slidingWindow: ComponentSpec<typeof config> = {
  slot: 'window',
  name: 'sliding',
  summary: 'Overlapping windows of `size` that start every `every`: each record falls in size/every windows.',
  config,
  examples: [{ title: 'Last 10 minutes, every minute', yaml: 'sliding:\n  size: 10m\n  every: 1m\n' }],
  lint(config): LintIssue[] {
    const size = parseDuration(config.size);
    const every = parseDuration(config.every);
    if (every > size) {
      return [
        {
          path: ['every'],
          message: `every (${config.every}) is larger than size (${config.size})`,
          hint: 'a sliding window must start at least once per size; use a tumbling window for every = size',
        },
      ];
    }
    if (size % every !== 0) {
      return [
        {
          path: ['every'],
          message: `every (${config.every}) does not divide size (${config.size})`,
          hint: `choose an every such that size is a whole multiple of it, e.g. ${suggestDivisor(size, every)}`,
        },
      ];
    }
    return [];
  },
};

function suggestDivisor(size: number, every: number): string {
  for (let candidate = every; candidate > 0; candidate--) {
    if (size % candidate === 0 && candidate % 1000 === 0) return `${candidate / 1000}s`;
  }
  return `${size}ms`;
}
