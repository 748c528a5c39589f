import { describe, expect, it } from 'vitest'
import { changesToPatch, diffRules, RULE_CHOICES, RULE_FIELDS, sameDecimal, validRuleValue } from './rules-meta'

describe('rules metadata', () => {
  it('names every key of the rulebook once', () => {
    const names = RULE_FIELDS.map((f) => `${f.section}.${f.key}`)
    expect(new Set(names).size).toBe(names.length)
    expect(names).toHaveLength(22) // the keys of SPEC §4: 2 + 3 + 2 + 1 + 3 + 4 + 1 + 1 + 2 + 3
    expect(names).toContain('exit.multiple')
    expect(names).toContain('limits.max_mint_value_per_order')
    expect(names).toContain('limits.max_mint_value_per_member_day')
    // every choice key lists its words
    for (const f of RULE_FIELDS.filter((f) => f.kind === 'choice')) expect(RULE_CHOICES[`${f.section}.${f.key}`]?.length).toBeGreaterThan(1)
    expect(RULE_CHOICES['limits.self_dealing']).toEqual(['allow', 'no_mint', 'reject'])
  })
  it('checks the form of a value by its kind', () => {
    expect(validRuleValue('rate', '0.003')).toBe(true)
    expect(validRuleValue('rate', '0.0000001')).toBe(false) // 7 decimals
    expect(validRuleValue('money', '1.00')).toBe(true)
    expect(validRuleValue('money', '1.001')).toBe(false)
    expect(validRuleValue('multiple', '-1')).toBe(false)
    expect(validRuleValue('rate', '')).toBe(false)
    expect(validRuleValue('choice', 'no_mint')).toBe(true)
    expect(validRuleValue('choice', '1')).toBe(false)
  })
  it('compares decimals by value', () => {
    expect(sameDecimal('0.20', '0.2')).toBe(true)
    expect(sameDecimal('00.2', '0.2')).toBe(true)
    expect(sameDecimal('0', '0.00')).toBe(true)
    expect(sameDecimal('1.2', '1.21')).toBe(false)
    expect(sameDecimal('10', '1')).toBe(false)
  })
  it('diffs only what changed and builds the partial patch', () => {
    const current = { exit: { multiple: '1.2' }, sell: { retention: '0.2', min_lifetime_consumption: '0.00' } }
    const edited = { exit: { multiple: '2' }, sell: { retention: '0.20', min_lifetime_consumption: '10' } }
    const changes = diffRules(current, edited)
    expect(changes.map((c) => [`${c.section}.${c.key}`, c.from, c.to])).toEqual([
      ['sell.min_lifetime_consumption', '0.00', '10'],
      ['exit.multiple', '1.2', '2'],
    ])
    expect(changesToPatch(changes)).toEqual({ sell: { min_lifetime_consumption: '10' }, exit: { multiple: '2' } })
  })
})
