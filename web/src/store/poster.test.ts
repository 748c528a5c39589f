import { describe, expect, it } from 'vitest'
import { wrap } from './poster'

// One unit per character: a line of width 5 holds five characters.
const measure = (s: string) => s.length

describe('the poster wraps its text', () => {
  it('breaks Chinese anywhere and keeps every character', () => {
    const text = '在本店及联盟门店消费即可获得积分'
    const lines = wrap(measure, text, 5)
    expect(lines.every((l) => l.length <= 5)).toBe(true)
    expect(lines.join('')).toBe(text)
  })
  it('breaks English at spaces only', () => {
    expect(wrap(measure, 'Sell points for cash', 11)).toEqual(['Sell points', 'for cash'])
    // A word longer than the line stays whole on its own line.
    expect(wrap(measure, 'a verylongword b', 5)).toEqual(['a', 'verylongword', 'b'])
  })
})
