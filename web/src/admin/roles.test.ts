import { describe, expect, it } from 'vitest'
import { can, canSee, isRole, SECTIONS, whoCan, whoSees } from './roles'

describe('roles', () => {
  it('lets the super admin see and do everything', () => {
    for (const s of SECTIONS) expect(canSee('superadmin', s)).toBe(true)
    expect(can('superadmin', 'withdrawals.decide')).toBe(true)
    expect(can('superadmin', 'rules.edit')).toBe(true)
  })
  it('lets the auditor see everything and change nothing', () => {
    for (const s of SECTIONS) expect(canSee('auditor', s)).toBe(true)
    for (const a of ['withdrawals.decide', 'rules.edit', 'ops.inject', 'ops.campaigns', 'ops.release', 'ops.dividends'] as const) {
      expect(can('auditor', a)).toBe(false)
    }
  })
  it('keeps money movements to finance and economy levers to operators', () => {
    expect(whoSees('withdrawals')).toEqual(['superadmin', 'finance', 'auditor'])
    expect(whoCan('withdrawals.decide')).toEqual(['superadmin', 'finance'])
    expect(whoCan('ops.inject')).toEqual(['superadmin', 'operator'])
    expect(whoSees('rules')).toEqual(['superadmin', 'operator', 'auditor'])
    expect(whoCan('ops.dividends')).toEqual(['superadmin', 'finance'])
  })
  it('lets those with the operate permission refund a pending order (superadmin, operator)', () => {
    expect(whoCan('orders.refund')).toEqual(['superadmin', 'operator'])
    expect(canSee('operator', 'orders')).toBe(true)
  })
  it('shows nothing without a role', () => {
    expect(canSee(undefined, 'dashboard')).toBe(false)
    expect(isRole('root')).toBe(false)
    expect(isRole('finance')).toBe(true)
  })
})
