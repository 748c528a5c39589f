import { describe, expect, it } from 'vitest'
import zhCN from '@shared/i18n/zh-CN'
import en from '@shared/i18n/en'
import { capProgress, complement, isPositiveAmount, REWARD_KINDS, rewardsShown, sparkline, tokenFromHash } from './lib'

describe('tokenFromHash', () => {
  it('reads the token the platform puts in the fragment', () => {
    expect(tokenFromHash('#token=mt.abc.def')).toBe('mt.abc.def')
    expect(tokenFromHash('#/sell?token=eyJ.x.y&lang=en')).toBe('eyJ.x.y')
    expect(tokenFromHash('#a=1&token=t%2B1')).toBe('t+1')
  })
  it('finds none where there is none', () => {
    expect(tokenFromHash('')).toBeNull()
    expect(tokenFromHash('#/')).toBeNull()
    expect(tokenFromHash('#/history')).toBeNull()
    expect(tokenFromHash('#token=')).toBeNull()
    expect(tokenFromHash('#tokens=abc')).toBeNull()
  })
})

describe('capProgress', () => {
  it('is (realised + value) / cap in tenths of a percent, floored', () => {
    // 300.00 + 152.34 = 452.34 of 1000.00 → 45.234% → 45.2%
    expect(capProgress('300.00', '152.34', '1000.00')).toEqual({ permille: 452, text: '45.2%' })
    // 1 fen short of the cap: 99.9%, not 100%
    expect(capProgress('0.00', '1199.99', '1200.00')).toEqual({ permille: 999, text: '99.9%' })
    expect(capProgress('0.10', '0.20', '0.30')).toEqual({ permille: 1000, text: '100.0%' })
  })
  it('stays within 0 and 100%, and is 0 without a cap', () => {
    expect(capProgress('5000.00', '1.00', '1200.00').permille).toBe(1000)
    expect(capProgress('0.00', '0.00', '0.00')).toEqual({ permille: 0, text: '0.0%' })
    expect(capProgress('1.00', '1.00', 'nonsense').permille).toBe(0)
  })
  it('is exact where floats are not', () => {
    // 0.1 + 0.2 of 0.3 in floats is 1.0000000000000002; here exactly 100%.
    expect(capProgress('0.1', '0.2', '0.3').text).toBe('100.0%')
    // Very large sums keep every fen: 90071992547409.93 + 0.01 over twice that → 50%.
    expect(capProgress('90071992547409.93', '0.01', '180143985094819.88').text).toBe('50.0%')
  })
})

describe('input checks and helpers', () => {
  it('accepts positive amounts with few enough decimals', () => {
    expect(isPositiveAmount('12.5', 2)).toBe(true)
    expect(isPositiveAmount('0.00000001', 8)).toBe(true)
    for (const bad of ['0', '0.00', '-1', '1e3', '1.234', '', 'abc', '1.']) expect(isPositiveAmount(bad, 2), bad).toBe(false)
  })
  it('complements a rate', () => {
    expect(complement('0.2')).toBe('0.8')
    expect(complement('0.125')).toBe('0.875')
    expect(complement('0')).toBe('1')
  })
  it('draws a sparkline from the lowest to the highest price', () => {
    expect(sparkline(['1.00000000', '2.00000000', '3.00000000'], 100, 20)).toBe('0,20 50,10 100,0')
    expect(sparkline(['5.00000000', '5.00000000'], 10, 20)).toBe('0,10 10,10')
    expect(sparkline([], 10, 10)).toBe('')
  })
})

describe('rewardsShown', () => {
  const all = (amounts: Record<string, string>) => REWARD_KINDS.map((kind) => ({ kind, amount: amounts[kind] ?? '0.00' }))
  it('lists direct and indirect always and the other kinds when not zero, in order', () => {
    expect(rewardsShown(all({ direct: '3.00', city: '0.01' })).map((r) => r.kind)).toEqual(['direct', 'indirect', 'city'])
    expect(rewardsShown(all({ peer: '0.50' })).map((r) => [r.kind, r.amount])).toEqual([
      ['direct', '0.00'],
      ['indirect', '0.00'],
      ['peer', '0.50'],
    ])
  })
  it('lists nothing while every kind is zero, however the zero is written', () => {
    expect(rewardsShown(all({ direct: '0', indirect: '0.0', recruiter: '-0.00' }))).toEqual([])
    expect(rewardsShown([])).toEqual([])
  })
  it('compares exactly, not as floats', () => {
    expect(rewardsShown(all({ province: '0.001' })).map((r) => r.kind)).toEqual([])
    expect(rewardsShown(all({ province: '90071992547409.93' })).map((r) => r.kind)).toEqual(['direct', 'indirect', 'province'])
  })
})

describe('REWARD_KINDS', () => {
  it('are worded in both languages, in the member app and the console', () => {
    for (const kind of REWARD_KINDS) {
      const key = `reward_${kind}` as const
      for (const cat of [zhCN, en]) {
        expect(cat.m.history.reason[key], `${kind}`).toBeTruthy()
        expect(cat.members.ledger.reason[key], `${kind}`).toBeTruthy()
      }
    }
    expect(zhCN.m.history.reason.reward_direct).toBe('直推奖励')
    expect(zhCN.m.history.reason.reward_district).toBe('区代奖励')
  })
})
