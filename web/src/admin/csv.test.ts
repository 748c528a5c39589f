import { describe, expect, it } from 'vitest'
import { csvCell, toCsv } from './csv'

describe('csv', () => {
  it('quotes what needs quoting', () => {
    expect(csvCell('plain')).toBe('plain')
    expect(csvCell('a,b')).toBe('"a,b"')
    expect(csvCell('say "hi"')).toBe('"say ""hi"""')
    expect(csvCell('two\nlines')).toBe('"two\nlines"')
    expect(csvCell(null)).toBe('')
    expect(csvCell(12)).toBe('12')
  })
  it('defuses formulas but leaves numbers alone', () => {
    expect(csvCell('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`)
    expect(csvCell('@sum')).toBe("'@sum")
    expect(csvCell('-12.50')).toBe('-12.50')
    expect(csvCell('-x')).toBe("'-x")
  })
  it('writes a BOM, a header and CRLF rows', () => {
    expect(toCsv(['会员', '金额'], [['m1', '100.50']])).toBe('\ufeff会员,金额\r\nm1,100.50\r\n')
  })
})
