import { describe, expect, it } from 'vitest'
import { can, canSee } from './roles'

describe('the simulator workbench', () => {
  it('is seen by superadmin, operator and auditor; run by those with the operate permission', () => {
    for (const r of ['superadmin', 'operator', 'auditor'] as const) expect(canSee(r, 'simulator')).toBe(true)
    expect(can('superadmin', 'sim.run')).toBe(true)
    expect(can('operator', 'sim.run')).toBe(true)
    expect(can('auditor', 'sim.run')).toBe(false)
    expect(can('finance', 'sim.run')).toBe(false)
  })
})
