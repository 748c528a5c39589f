import { describe, expect, it } from 'vitest'
import { can, canSee } from './roles'

describe('roles on the system page', () => {
  it('lets only the super admin manage operators and API keys (the server’s administer permission)', () => {
    for (const a of ['system.users', 'system.keys'] as const) {
      expect(can('superadmin', a)).toBe(true)
      expect(can('auditor', a)).toBe(false)
      expect(can('operator', a)).toBe(false)
      expect(can('finance', a)).toBe(false)
    }
  })
  it('shows the page to the super admin and the auditor only', () => {
    expect(canSee('superadmin', 'system')).toBe(true)
    expect(canSee('auditor', 'system')).toBe(true)
    expect(canSee('operator', 'system')).toBe(false)
    expect(canSee('finance', 'system')).toBe(false)
  })
})
