import { describe, expect, it } from 'vitest'
import { getKey, setKey, validFormValue } from './toml'

const TEXT = `name = "x"
horizon_days = 365 # a year
seed = 1

[arrivals]
model = "constant"
rate = 40.0

[[stores]]
count = 3

[rules.exit]
multiple = "1.2"
`

describe('the scenario form edits the TOML in place', () => {
  it('reads top-level and table keys, without comments and quotes', () => {
    expect(getKey(TEXT, 'horizon_days')).toBe('365')
    expect(getKey(TEXT, 'arrivals.rate')).toBe('40.0')
    expect(getKey(TEXT, 'rules.exit.multiple')).toBe('1.2')
    expect(getKey(TEXT, 'runs')).toBeUndefined()
    expect(getKey(TEXT, 'rules.sell.retention')).toBeUndefined()
    // a key of another table with the same name is not it
    expect(getKey(TEXT, 'count')).toBeUndefined()
  })
  it('replaces a value and keeps its comment', () => {
    const t = setKey(TEXT, 'horizon_days', '60')
    expect(t).toContain('horizon_days = 60 # a year')
    expect(getKey(t, 'horizon_days')).toBe('60')
    expect(getKey(setKey(TEXT, 'arrivals.rate', '5'), 'arrivals.rate')).toBe('5')
  })
  it('adds a missing key to its table, and a missing table at the end', () => {
    const t = setKey(TEXT, 'runs', '4')
    expect(getKey(t, 'runs')).toBe('4')
    expect(t.indexOf('runs = 4')).toBeLessThan(t.indexOf('[arrivals]'))
    const u = setKey(TEXT, 'arrivals.initial_members', '10')
    expect(getKey(u, 'arrivals.initial_members')).toBe('10')
    expect(u.indexOf('initial_members')).toBeLessThan(u.indexOf('[[stores]]'))
    const v = setKey(TEXT, 'rules.sell.retention', '"0.3"')
    expect(v).toContain('[rules.sell]\nretention = "0.3"')
    expect(getKey(v, 'rules.sell.retention')).toBe('0.3')
    expect(getKey(setKey('', 'horizon_days', '10'), 'horizon_days')).toBe('10')
  })
  it('removes a key', () => {
    expect(getKey(setKey(TEXT, 'seed', null), 'seed')).toBeUndefined()
  })
  it('accepts only plain numbers', () => {
    expect(validFormValue('40', true)).toBe(true)
    expect(validFormValue('4.5', true)).toBe(false)
    expect(validFormValue('4.5', false)).toBe(true)
    expect(validFormValue('-1', false)).toBe(false)
    expect(validFormValue('', false)).toBe(false)
  })
})
