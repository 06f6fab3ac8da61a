/**
 * Static kinds: each value the translation generates carries the set of runtime kinds it can have,
 * so checks that cannot fail are left out (a string literal needs no type test).
 */
export const U = 1; // undefined
export const S = 2; // string
export const N = 4; // finite number
export const X = 8; // NaN or +-Infinity
export const B = 16; // boolean
export const L = 32; // null
export const O = 64; // plain object (never an array: paths fall back on arrays)
export const NUM = N | X;
export const ANY = U | S | N | X | B | L | O;

export interface Value {
  /** A JavaScript identifier or literal holding the value. */
  readonly code: string;
  readonly kinds: number;
  /** Set for literals: evaluating them has no effect and cannot fail. */
  readonly literal?: boolean;
}

/** Whether every kind in `kinds` is in `allowed`. */
export const within = (kinds: number, allowed: number): boolean => (kinds & ~allowed) === 0;
