/** `last`: the value of the latest record by event time. */
import { ByEventTimeState } from './by-event-time.js';
import { resolveOptions } from './options.js';
import type { AggregationKind } from '../../engine/aggregation.js';

export const last: AggregationKind<Record<string, never>> = {
  name: 'last',
  summary:
    'The value of the record with the latest event time; on equal times, the value whose JSON text sorts last, so the result never depends on arrival order.',
  input: 'any',
  options: {},
  describeState: () => 'one value and its event time',
  create: (given) => {
    resolveOptions('last', {}, given);
    return new ByEventTimeState('last', true);
  },
  deserialize: (stored) => ByEventTimeState.deserialize('last', true, stored),
};
