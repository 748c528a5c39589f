import { describe, expect, it } from 'vitest'
import { whoCan, whoSees } from './roles'

describe('roles on the system page', () => {
  it('lets only the super admin manage operators and API keys (the server’s administer permission)', () => {
    for (const a of ['system.users', 'system.keys'] as const) expect(whoCan(a)).toEqual(['superadmin'])
  })
  it('shows the page to the super admin and the auditor only', () => {
    expect(whoSees('system')).toEqual(['superadmin', 'auditor'])
  })
})
