import { describe, expect, it } from 'vitest'
import { whoCan } from './roles'

describe('insight actions', () => {
  it('lets superadmin and finance start the chain check, as the server does', () => {
    expect(whoCan('finance.verify')).toEqual(['superadmin', 'finance'])
  })
  it('lets superadmin and operator grant legacy-debt coins', () => {
    expect(whoCan('ops.coins')).toEqual(['superadmin', 'operator'])
  })
})
