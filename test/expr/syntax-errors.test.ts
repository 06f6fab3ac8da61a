/** Syntax errors carry jsonata's code and a 0-based offset at the start of the offending token. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileExpression, ExpressionSyntaxError, referencedFields } from '../../src/expr/index.js';

interface Case {
  readonly source: string;
  readonly code: string;
  /** the caret: the text from the offset on starts with `at` (empty: end of the expression) */
  readonly offset: number;
  readonly at: string;
  readonly message: string;
}

const cases: Case[] = [
  { source: 'geo !=', code: 'S0207', offset: 6, at: '', message: 'Unexpected end of expression' },
  { source: 'geo != "unknown" and ', code: 'S0207', offset: 20, at: '', message: 'Unexpected end of expression' },
  { source: '$lowercase(geo', code: 'S0203', offset: 14, at: '', message: 'Expected ")" before end of expression' },
  { source: 'geo in ["US", "CA"', code: 'S0203', offset: 18, at: '', message: 'Expected "]" before end of expression' },
  { source: 'a b', code: 'S0201', offset: 2, at: 'b', message: 'Syntax error: "b"' },
  { source: '"abc" "def"', code: 'S0201', offset: 6, at: '"def"', message: 'Syntax error: "def"' },
  { source: '$round(bid, 2))', code: 'S0201', offset: 14, at: ')', message: 'Syntax error: ")"' },
  { source: 'a + + b', code: 'S0211', offset: 4, at: '+ b', message: 'The symbol "+" cannot be used as a unary operator' },
  { source: 'geo = "US"\n  and ]', code: 'S0211', offset: 17, at: ']', message: 'The symbol "]" cannot be used as a unary operator' },
  { source: 'publisher & : geo', code: 'S0211', offset: 12, at: ': geo', message: 'The symbol ":" cannot be used as a unary operator' },
  { source: 'bid > 0.5 and geo in ["US" "CA"]', code: 'S0202', offset: 27, at: '"CA"]', message: 'Expected "]", got "CA"' },
  { source: 'foo(1 2)', code: 'S0202', offset: 6, at: '2)', message: 'Expected ")", got 2' },
  { source: 'geo = "abc', code: 'S0101', offset: 6, at: '"abc', message: 'String literal must be terminated by a matching quote' },
  { source: 'a.`b c`.`d', code: 'S0105', offset: 8, at: '`d', message: 'Quoted property name must be terminated with a backquote (`)' },
  { source: 'x = "\\q"', code: 'S0103', offset: 5, at: '\\q', message: 'Unsupported escape sequence: \\"q"' },
  { source: '"x\\u12g4"', code: 'S0104', offset: 2, at: '\\u12g4', message: 'The escape sequence \\u must be followed by 4 hex digits' },
  { source: 'a = 99999e999999', code: 'S0102', offset: 4, at: '99999e999999', message: 'Number out of range: "99999e999999"' },
  { source: 'a /* note', code: 'S0106', offset: 2, at: '/* note', message: 'Comment has no closing tag' },
  { source: 'a.1', code: 'S0213', offset: 2, at: '1', message: 'The literal value 1 cannot be used as a step within a path expression' },
  { source: 'a := 1', code: 'S0212', offset: 0, at: 'a :=', message: 'The left side of := must be a variable name (start with $)' },
  { source: 'a ! b', code: 'S0204', offset: 2, at: '! b', message: 'Unknown operator: "!"' },
  { source: 'a # b', code: 'S0214', offset: 4, at: 'b', message: 'The right side of "#" must be a variable name (start with $)' },
  {
    source: '%.a',
    code: 'S0217',
    offset: 0,
    at: '%.a',
    message: "The object representing the 'parent' cannot be derived from this expression",
  },
  { source: 'a ~> /x', code: 'S0302', offset: 5, at: '/x', message: 'No terminating / in regular expression' },
  { source: 'a /* c */ b', code: 'S0201', offset: 10, at: 'b', message: 'Syntax error: "b"' },
  { source: '"\\u00e9t\\u00e9" x', code: 'S0201', offset: 16, at: 'x', message: 'Syntax error: "x"' },
];

for (const c of cases) {
  test(`syntax error ${c.code} in ${JSON.stringify(c.source)} points at offset ${c.offset}`, () => {
    let caught: unknown;
    try {
      compileExpression(c.source);
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof ExpressionSyntaxError, `expected ExpressionSyntaxError, got ${String(caught)}`);
    assert.equal(caught.code, c.code);
    assert.equal(caught.position, c.offset);
    assert.ok(c.source.slice(caught.position).startsWith(c.at), `caret lands on ${JSON.stringify(c.source.slice(caught.position))}`);
    assert.equal(caught.message, c.message);
    assert.equal(caught.name, 'ExpressionSyntaxError');
  });
}

test('referencedFields reports syntax errors the same way', () => {
  assert.throws(
    () => referencedFields('a b'),
    (err: unknown) => err instanceof ExpressionSyntaxError && err.position === 2,
  );
});

test('valid expressions do not throw', () => {
  for (const source of ['a.`b c`', 'a /* note */ = 1', '$x := 1', 'a.%', '/re/i', '"\\u00e9"']) {
    assert.doesNotThrow(() => compileExpression(source), source);
  }
});
