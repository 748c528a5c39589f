import { describe, expect, it } from 'vitest'
import { formatBasisPoints, sellAllRisk } from './economy'

describe('sellAllRisk', () => {
  it('is supply × price × (1 − retention), floored to the fen, retention rounded up', () => {
    // 100 points at ¥2.00000000 = ¥200.00 gross; 20% kept = ¥40.00; payout ¥160.00
    const r = sellAllRisk('100.00000000', '2.00000000', '0.2', '200.00')!
    expect(r.payoutFen).toBe(16000n)
    expect(r.poolFen).toBe(20000n)
    expect(r.coverageBp).toBe(12500n) // 200 / 160 = 125%
  })
  it('rounds gross down and the kept part up, as the engine does', () => {
    // 1 point at ¥0.01999999: gross 0.01999999 yuan → 1 fen; kept ceil(0.2 fen) = 1 fen; payout 0
    const r = sellAllRisk('1.00000000', '0.01999999', '0.2', '0.02')!
    expect(r.payoutFen).toBe(0n)
    expect(r.coverageBp).toBeNull()
    // 3 points at ¥1.11111111 = 3.33333333 yuan → 333 fen; kept ceil(66.6) = 67; payout 266
    expect(sellAllRisk('3', '1.11111111', '0.2', '3.33')!.payoutFen).toBe(266n)
  })
  it('is exact for amounts beyond float precision', () => {
    // 10^12 points at ¥12345.67890123: gross ¥12,345,678,901,230,000.00 = 1,234,567,890,123,000,000 fen
    const r = sellAllRisk('1000000000000', '12345.67890123', '0', '1')!
    expect(r.payoutFen.toString()).toBe('1234567890123000000')
  })
  it('refuses malformed input', () => {
    expect(sellAllRisk('x', '1', '0.2', '1')).toBeNull()
  })
  it('formats basis points', () => {
    expect(formatBasisPoints(12500n)).toBe('125.00%')
    expect(formatBasisPoints(5n)).toBe('0.05%')
  })
})
