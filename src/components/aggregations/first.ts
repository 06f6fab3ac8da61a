/** `first`: the value of the earliest record by event time. */
import { ByEventTimeState } from './by-event-time.js';
import { resolveOptions } from './options.js';
import type { AggregationKind } from '../../engine/aggregation.js';

export const first: AggregationKind<Record<string, never>> = {
  name: 'first',
  summary:
    'The value of the record with the earliest event time; on equal times, the value whose JSON text sorts first, so the result never depends on arrival order.',
  input: 'any',
  options: {},
  describeState: () => 'one value and its event time',
  create: (given) => {
    resolveOptions('first', {}, given);
    return new ByEventTimeState('first', false);
  },
  deserialize: (stored) => ByEventTimeState.deserialize('first', false, stored),
};
