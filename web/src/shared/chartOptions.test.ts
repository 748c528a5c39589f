import { describe, expect, it } from 'vitest'
import { axisTooltip } from './chartOptions'

describe('axisTooltip', () => {
  const rows = [
    { day: '2026-01-01', gmv: '10.00' },
    { day: '2026-01-02', gmv: '12.50' },
  ]
  const tip = axisTooltip(rows, (d) => [`<b>${d.day}</b>`, `GMV ${d.gmv}`], { confine: true })

  it('is an axis tooltip with the extra options', () => {
    expect(tip.trigger).toBe('axis')
    expect((tip as Record<string, unknown>).confine).toBe(true)
  })
  it('shows the lines of the row under the pointer, one per line', () => {
    expect(tip.formatter([{ dataIndex: 1 }])).toBe('<b>2026-01-02</b><br/>GMV 12.50')
  })
  it('shows nothing where there is no row', () => {
    expect(tip.formatter([])).toBe('')
    expect(tip.formatter([{ dataIndex: 5 }])).toBe('')
  })
})
