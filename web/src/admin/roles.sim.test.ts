import { describe, expect, it } from 'vitest'
import { whoCan, whoSees } from './roles'

describe('the simulator workbench', () => {
  it('is seen by superadmin, operator and auditor; run by those with the operate permission', () => {
    expect(whoSees('simulator')).toEqual(['superadmin', 'operator', 'auditor'])
    expect(whoCan('sim.run')).toEqual(['superadmin', 'operator'])
  })
})
