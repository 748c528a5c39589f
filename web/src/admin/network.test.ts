import { describe, expect, it } from 'vitest'
import { parseWeight, percentToRate, sumFen } from './network'
import { whoCan } from './roles'

describe('percentToRate', () => {
  it('moves the decimal point two places without floats', () => {
    expect(percentToRate('20')).toBe('0.2')
    expect(percentToRate('0.35')).toBe('0.0035')
    expect(percentToRate('12.3456')).toBe('0.123456')
    expect(percentToRate('100')).toBe('1')
    expect(percentToRate('0')).toBe('0')
    expect(percentToRate(' 7 ')).toBe('0.07')
  })
  it('refuses what is not a percentage of 0 to 100 with at most 4 decimals', () => {
    for (const bad of ['', 'abc', '-1', '100.01', '101', '1.23456', '1e2', '.5']) expect(percentToRate(bad), bad).toBeNull()
  })
})

describe('parseWeight', () => {
  it('takes non-negative integers up to u32', () => {
    expect(parseWeight('0')).toBe(0)
    expect(parseWeight('25')).toBe(25)
    expect(parseWeight('4294967295')).toBe(4294967295)
    expect(parseWeight('4294967296')).toBeNull()
    expect(parseWeight('1.5')).toBeNull()
    expect(parseWeight('-1')).toBeNull()
  })
})

describe('sumFen', () => {
  it('adds money strings exactly', () => {
    expect(sumFen(['0.10', '0.20', null, '1234567890123.45'])).toBe(123456789012375n)
  })
})

describe('the network pages’ actions by role (as the server’s guards: CanOperate for writes)', () => {
  it('lets superadmin and operator create stores, appoint agents and set shareholders; not finance or auditor', () => {
    for (const a of ['stores.create', 'agents.appoint', 'shareholders.edit'] as const) expect(whoCan(a)).toEqual(['superadmin', 'operator'])
  })
})
