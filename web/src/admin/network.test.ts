import { describe, expect, it } from 'vitest'
import { parseWeight, percentToRate, sumFen } from './network'
import { expectCases } from '@shared/test-cases'
import { whoCan } from './roles'

describe('percentToRate', () => {
  it('moves the decimal point two places without floats', () => {
    expectCases(percentToRate, [['20', '0.2'], ['0.35', '0.0035'], ['12.3456', '0.123456'], ['100', '1'], ['0', '0'], [' 7 ', '0.07']])
  })
  it('refuses what is not a percentage of 0 to 100 with at most 4 decimals', () => {
    for (const bad of ['', 'abc', '-1', '100.01', '101', '1.23456', '1e2', '.5']) expect(percentToRate(bad), bad).toBeNull()
  })
})

describe('parseWeight', () => {
  it('takes non-negative integers up to u32', () => {
    expectCases(parseWeight, [['0', 0], ['25', 25], ['4294967295', 4294967295], ['4294967296', null], ['1.5', null], ['-1', null]])
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
