import { describe, expect, it } from 'vitest'
import { imbalanceFen, readCoinCsv, sameMoney, signOf, validCoinAmount } from './helpers'

describe('exact money comparisons', () => {
  it('compares in fen, not floats', () => {
    expect(sameMoney('12.3', '12.30')).toBe(true)
    expect(sameMoney('0.1', '0.10')).toBe(true)
    expect(sameMoney('90071992547409.93', '90071992547409.92')).toBe(false)
    expect(sameMoney('x', '1')).toBeNull()
  })
  it('gives the imbalance of a day', () => {
    expect(imbalanceFen('100.00', '100.00')).toBe(0n)
    expect(imbalanceFen('100.01', '100.00')).toBe(1n)
    expect(imbalanceFen('99.99', '100')).toBe(-1n)
    expect(imbalanceFen('', '1')).toBeNull()
  })
  it('reads the sign of a change', () => {
    expect(signOf('3')).toBe(1)
    expect(signOf('-0.01')).toBe(-1)
    expect(signOf('0.00')).toBe(0)
    expect(signOf(null)).toBeNull()
  })
})

describe('coins CSV', () => {
  it('skips a header, blank and comment lines, numbering lines as the server does', () => {
    const r = readCoinCsv('\ufeffmember,amount\r\nalice,10.50\r\n\r\n# note\r\n"bob" , 3\r\n')
    expect(r.bad).toEqual([])
    expect(r.rows).toEqual([
      { row: 2, member: 'alice', amount: '10.50' },
      { row: 5, member: 'bob', amount: '3' },
    ])
  })
  it('names the lines that are not member,amount', () => {
    const r = readCoinCsv('alice,1\nbob\ncarol,1,2\n,5')
    expect(r.rows).toEqual([{ row: 1, member: 'alice', amount: '1' }])
    expect(r.bad.map((b) => b.row)).toEqual([2, 3, 4])
  })
  it('treats a later member,amount line as a row', () => {
    expect(readCoinCsv('alice,1\nmember,amount').rows.length).toBe(2)
  })
  it('checks amounts', () => {
    expect(validCoinAmount('10.5')).toBe(true)
    expect(validCoinAmount('0')).toBe(false)
    expect(validCoinAmount('1.234')).toBe(false)
    expect(validCoinAmount('-1')).toBe(false)
    expect(validCoinAmount('abc')).toBe(false)
  })
})
