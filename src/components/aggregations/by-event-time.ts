/**
 * The state behind `first` and `last`: one value and its event time. The kept value is the one
 * with the smallest (first) or largest (last) pair (event time, JSON text of the value), so on
 * equal times the JSON text decides and neither the order of records nor the grouping of merges
 * can change the result.
 */
import { invalidState, sameKind, storedObject } from './checks.js';
import { AggregationError, type AggregationState, type StoredValue } from '../../engine/aggregation.js';

export class ByEventTimeState implements AggregationState {
  has = false;
  t = 0;
  v: unknown = null;
  /** JSON text of v, computed only when needed (ties and serialization). */
  j: string | undefined = undefined;

  constructor(
    readonly kind: 'first' | 'last',
    private readonly latest: boolean,
  ) {}

  add(value: unknown, eventTime: number): void {
    if (!this.has || (this.latest ? eventTime > this.t : eventTime < this.t)) {
      this.has = true;
      this.t = eventTime;
      this.v = value === 0 ? 0 : value; // -0 is 0 in JSON
      this.j = undefined;
    } else if (eventTime === this.t) {
      this.tie(value, JSON.stringify(value));
    }
  }

  private tie(value: unknown, json: string): void {
    const current = (this.j ??= JSON.stringify(this.v));
    if (this.latest ? json > current : json < current) {
      this.v = value === 0 ? 0 : value;
      this.j = json;
    }
  }

  merge(other: AggregationState): void {
    const o = sameKind(this.kind, other, ByEventTimeState);
    if (o.latest !== this.latest)
      throw new AggregationError('incompatible-state', `cannot merge a ${o.kind} state into a ${this.kind} state`);
    if (!o.has) return;
    if (!this.has || (this.latest ? o.t > this.t : o.t < this.t)) {
      this.has = true;
      this.t = o.t;
      this.v = o.v;
      this.j = o.j;
    } else if (o.t === this.t) {
      this.tie(o.v, (o.j ??= JSON.stringify(o.v)));
    }
  }

  /** The kept value, or null when empty. */
  result(): unknown {
    return this.has ? this.v : null;
  }

  /** `{ t, j }`: the event time (epoch ms) and the value as JSON text (any JSON survives BSON), or null. */
  serialize(): StoredValue {
    return this.has ? { t: this.t, j: (this.j ??= JSON.stringify(this.v)) } : null;
  }

  static deserialize(kind: 'first' | 'last', latest: boolean, stored: StoredValue): ByEventTimeState {
    const state = new ByEventTimeState(kind, latest);
    if (stored === null) return state;
    const expected = 'a { t, j } document or null';
    const doc = storedObject(kind, stored, expected);
    if (typeof doc.t !== 'number' || typeof doc.j !== 'string') throw invalidState(kind, stored, expected);
    let value: unknown;
    try {
      value = JSON.parse(doc.j);
    } catch {
      throw invalidState(kind, stored, 'a document whose `j` is JSON text');
    }
    state.has = true;
    state.t = doc.t;
    state.v = value;
    state.j = doc.j;
    return state;
  }
}
