import { describe, expect, it } from 'vitest'
import { can } from './roles'

describe('insight actions', () => {
  it('lets superadmin and finance start the chain check, as the server does', () => {
    expect(can('superadmin', 'finance.verify')).toBe(true)
    expect(can('finance', 'finance.verify')).toBe(true)
    expect(can('operator', 'finance.verify')).toBe(false)
    expect(can('auditor', 'finance.verify')).toBe(false)
  })
  it('lets superadmin and operator grant legacy-debt coins', () => {
    expect(can('superadmin', 'ops.coins')).toBe(true)
    expect(can('operator', 'ops.coins')).toBe(true)
    expect(can('finance', 'ops.coins')).toBe(false)
    expect(can('auditor', 'ops.coins')).toBe(false)
  })
})
