import type { ComponentSpec } from '../spec.js';
import { duration } from '../fragments.js';

export const tumblingWindow: ComponentSpec<string> = {
  slot: 'window',
  name: 'tumbling',
  summary: 'Fixed, non-overlapping windows of one size, aligned to the epoch: each record falls in exactly one.',
  config: duration('Window size.'),
  examples: [{ title: 'Per minute', yaml: 'tumbling: 1m\n' }],
};
