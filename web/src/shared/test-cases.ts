// For the unit tests: a table of cases for a function of one argument.
import { expect } from 'vitest'

/** `f` answers each case's expected value for its input (a failure names the input). */
export function expectCases<I, O>(f: (input: I) => O, cases: readonly (readonly [I, O])[]) {
  for (const [input, want] of cases) expect(f(input), JSON.stringify(input)).toBe(want)
}
