import { describe, expect, it } from 'vitest'
import {
  exactPoints,
  formatCount,
  formatFen,
  formatMoney,
  formatPoints,
  formatPrice,
  formatRate,
  formatTime,
  groupThousands,
  parseScaled,
  scaledToString,
  PLACEHOLDER,
} from './index'
import { expectCases } from '../test-cases'

describe('parseScaled / scaledToString', () => {
  it('reads decimal strings exactly, beyond the range of floats', () => {
    // 2^53 + 1 fen cannot be represented by a double
    const big = (2n ** 53n + 1n).toString()
    expect(parseScaled(big.slice(0, -2) + '.' + big.slice(-2), 2)).toBe(2n ** 53n + 1n)
    expect(parseScaled('0.1', 2)).toBe(10n)
    expect(parseScaled('1000', 2)).toBe(100000n)
    expect(parseScaled('-0.05', 2)).toBe(-5n)
    expect(parseScaled('1.239', 2)).toBe(123n) // truncated toward zero
    expect(parseScaled('-1.239', 2)).toBe(-123n)
  })
  it('refuses what is not a plain decimal', () => {
    for (const bad of ['', 'abc', '1e5', '1,000', '+1', '1.2.3', ' ', null, undefined]) {
      expect(parseScaled(bad as string, 2)).toBeNull()
    }
  })
  it('round-trips', () => {
    for (const s of ['0.00', '0.01', '12.30', '-7.05', '123456789012345678.99']) {
      expect(scaledToString(parseScaled(s, 2)!, 2)).toBe(s)
    }
    expect(scaledToString(5n, 8)).toBe('0.00000005')
  })
  it('groups thousands', () => {
    expect(groupThousands('1234567.891')).toBe('1,234,567.891')
    expect(groupThousands('-1000')).toBe('-1,000')
    expect(groupThousands('999')).toBe('999')
  })
})

describe('formatMoney', () => {
  it('shows yuan with ¥, separators and 2 decimals', () => {
    expectCases(formatMoney, [['1234.56', '¥1,234.56'], ['1000', '¥1,000.00'], ['1000.5', '¥1,000.50'], ['0.01', '¥0.01'], ['0', '¥0.00'], ['-12.3', '-¥12.30']])
  })
  it('keeps every digit of large amounts', () => {
    expect(formatMoney('98765432109876543.21')).toBe('¥98,765,432,109,876,543.21')
  })
  it('shows a placeholder for missing or garbage values', () => {
    expect(formatMoney(null)).toBe(PLACEHOLDER)
    expect(formatMoney('NaN')).toBe(PLACEHOLDER)
  })
  it('formats fen', () => {
    expect(formatFen(123456n)).toBe('¥1,234.56')
    expect(formatFen(-1n)).toBe('-¥0.01')
  })
})

describe('formatPoints', () => {
  it('shows 2 to 4 decimals, truncated, with the exact value apart', () => {
    expect(formatPoints('9004.02453108')).toBe('9,004.0245')
    expect(formatPoints('17.38000000')).toBe('17.38')
    expect(formatPoints('1.50000000')).toBe('1.50')
    expect(formatPoints('0.00009999')).toBe('0.00') // below the shown precision, never rounded up
    expect(formatPoints('1234.12345678', 2, 2)).toBe('1,234.12')
    expect(exactPoints('9004.02453108')).toBe('9,004.02453108')
    expect(exactPoints('3')).toBe('3.00000000')
  })
  it('does not show a minus on a value that truncates to zero', () => {
    expect(formatPoints('-0.00001')).toBe('0.00')
    expect(formatPoints('-2.5')).toBe('-2.50')
  })
})

describe('formatPrice / formatRate / formatCount', () => {
  it('shows the price with 8 or fewer decimals', () => {
    expect(formatPrice('37.30409872')).toBe('¥37.30409872')
    expect(formatPrice('37.30409872', 4)).toBe('¥37.3040')
    expect(formatPrice('1234.5', 4)).toBe('¥1,234.5000')
  })
  it('shows rates as percentages', () => {
    expectCases(formatRate, [['0.003', '0.3%'], ['0.2', '20%'], ['0.000001', '0.0001%'], ['1', '100%'], ['0', '0%']])
  })
  it('counts', () => {
    expect(formatCount(4960)).toBe('4,960')
    expect(formatCount(undefined)).toBe(PLACEHOLDER)
  })
})

describe('formatTime', () => {
  it('shows Beijing time (UTC+8, no daylight saving) whatever the zone of the input', () => {
    expect(formatTime('2026-12-02T15:00:55.833Z')).toBe('2026-12-02 23:00:55')
    expect(formatTime('2026-11-12T07:00:00+08:00')).toBe('2026-11-12 07:00:00')
    // crosses midnight into the next Beijing day
    expect(formatTime('2026-06-30T16:30:00Z', 'day')).toBe('2026-07-01')
    expect(formatTime('2026-06-30T16:30:00-04:00', 'minute')).toBe('2026-07-01 04:30')
  })
  it('shows a placeholder for a missing or bad time', () => {
    expect(formatTime(null)).toBe(PLACEHOLDER)
    expect(formatTime('yesterday')).toBe(PLACEHOLDER)
  })
})
