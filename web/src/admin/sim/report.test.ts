import { describe, expect, it } from 'vitest'
import { honestBand, stat, type Honest } from './report'

describe('report statistics', () => {
  it('writes shares, yuan and ratios', () => {
    expect(stat(0.1234, 'pct')).toBe('12.3%')
    expect(stat(1.5, 'ratio')).toBe('1.50×')
    expect(stat(3.14159, 'yuan')).toBe('¥3.1416')
    expect(stat(Number.NaN, 'pct')).toBe('—')
  })
  it('makes a band of a single figure, and none of a missing one', () => {
    const band = { p5: 0, p50: 0.1, p95: 0.2 }
    const h = {
      cap_reached_share: band, avg_net_rebate_share: band, net_rebate_bound: 0.128, late_vs_early_wait_ratio: null,
      still_waiting_share: band, sell_value_per_point_at_end: band, retention: 0.2, price_growth_last_30_days: band, statements: [],
    } satisfies Honest
    expect(honestBand(h, 'net_rebate_bound')).toEqual({ p5: 0.128, p50: 0.128, p95: 0.128 })
    expect(honestBand(h, 'late_vs_early_wait_ratio')).toBeNull()
    expect(honestBand(h, 'cap_reached_share')).toBe(band)
  })
})
