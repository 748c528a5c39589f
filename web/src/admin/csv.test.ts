import { describe, expect, it } from 'vitest'
import { csvCell, toCsv } from './csv'
import { expectCases } from '@shared/test-cases'

describe('csv', () => {
  it('quotes what needs quoting', () => {
    expectCases(csvCell, [['plain', 'plain'], ['a,b', '"a,b"'], ['say "hi"', '"say ""hi"""'], ['two\nlines', '"two\nlines"'], [null, ''], [12, '12']])
  })
  it('defuses formulas but leaves numbers alone', () => {
    expectCases(csvCell, [['=HYPERLINK("x")', `"'=HYPERLINK(""x"")"`], ['@sum', "'@sum"], ['-12.50', '-12.50'], ['-x', "'-x"]])
  })
  it('writes a BOM, a header and CRLF rows', () => {
    expect(toCsv(['会员', '金额'], [['m1', '100.50']])).toBe('\ufeff会员,金额\r\nm1,100.50\r\n')
  })
})
