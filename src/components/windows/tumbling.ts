import type { Static } from '@sinclair/typebox';
import type { ComponentSpec } from '../spec.js';
import { duration } from '../fragments.js';

const config = duration('Window size.');
export type TumblingWindowConfig = Static<typeof config>;

export const tumblingWindow: ComponentSpec<typeof config> = {
  slot: 'window',
  name: 'tumbling',
  summary: 'Fixed, non-overlapping windows of one size, aligned to the epoch: each record falls in exactly one.',
  config,
  examples: [{ title: 'Per minute', yaml: 'tumbling: 1m\n' }],
};
