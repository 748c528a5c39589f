import { describe, expect, it } from 'vitest'
import { can, canSee, isRole, SECTIONS } from './roles'

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
    expect(canSee('operator', 'withdrawals')).toBe(false)
    expect(can('operator', 'withdrawals.decide')).toBe(false)
    expect(can('operator', 'ops.inject')).toBe(true)
    expect(canSee('finance', 'withdrawals')).toBe(true)
    expect(canSee('finance', 'rules')).toBe(false)
    expect(can('finance', 'ops.dividends')).toBe(true)
    expect(can('finance', 'ops.inject')).toBe(false)
  })
  it('lets those with the operate permission refund a pending order (superadmin, operator)', () => {
    expect(can('superadmin', 'orders.refund')).toBe(true)
    expect(can('operator', 'orders.refund')).toBe(true)
    expect(canSee('operator', 'orders')).toBe(true)
    expect(can('finance', 'orders.refund')).toBe(false)
    expect(can('auditor', 'orders.refund')).toBe(false)
  })
  it('shows nothing without a role', () => {
    expect(canSee(undefined, 'dashboard')).toBe(false)
    expect(isRole('root')).toBe(false)
    expect(isRole('finance')).toBe(true)
  })
})
