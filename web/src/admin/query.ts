// Reading a route query's values: one text each (the first of a repeated key), days checked.
import type { LocationQuery } from 'vue-router'

type QueryValue = LocationQuery[string] | undefined

/** A query value as one string ('' when missing or not text). */
export const one = (v: QueryValue): string => {
  const s = Array.isArray(v) ? v[0] : v
  return typeof s === 'string' ? s : ''
}

/** A query value when it is one of the allowed ones, else ''. */
export const oneOf = <T extends string>(v: QueryValue, allowed: readonly T[]): T | '' => {
  const s = one(v)
  return (allowed as readonly string[]).includes(s) ? (s as T) : ''
}

const DATE = /^\d{4}-\d{2}-\d{2}$/
/** A query value when it is a day (YYYY-MM-DD), else ''. */
export const date = (v: QueryValue): string => {
  const s = one(v)
  return DATE.test(s) ? s : ''
}
