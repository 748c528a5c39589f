// What each role sees and may do in the console. Only a convenience: the server checks every
// route itself.
import type { Role } from '@shared/api'

export type Section =
  | 'dashboard'
  | 'members'
  | 'stores'
  | 'agents'
  | 'shareholders'
  | 'orders'
  | 'withdrawals'
  | 'finance'
  | 'rules'
  | 'operations'
  | 'system'
  | 'simulator'

export type Action =
  | 'withdrawals.decide'
  | 'rules.edit'
  | 'ops.inject'
  | 'ops.campaigns'
  | 'ops.release'
  | 'ops.dividends'
  | 'exports'
  | 'orders.refund'
  | 'stores.create'
  | 'agents.appoint'
  | 'shareholders.edit'
  | 'finance.verify'
  | 'ops.coins'
  | 'system.users'
  | 'system.keys'
  | 'stores.page'
  | 'sim.run'

/** Every role, in the order the console lists them. */
export const ROLES = ['superadmin', 'operator', 'finance', 'auditor'] as const satisfies readonly Role[]

export const SECTIONS: Section[] = [
  'dashboard',
  'members',
  'stores',
  'agents',
  'shareholders',
  'orders',
  'withdrawals',
  'finance',
  'rules',
  'operations',
  'system',
  'simulator',
]

const SEES: Record<Role, readonly Section[]> = {
  superadmin: SECTIONS,
  // read-only everything
  auditor: SECTIONS,
  // members, stores, agents, shareholders, orders (refunds), campaigns, injections, coins, release, rule proposals
  operator: ['dashboard', 'members', 'stores', 'agents', 'shareholders', 'orders', 'rules', 'operations', 'simulator'],
  // withdrawals, exports, reconciliation, dividends (on the shareholders and operations pages)
  finance: ['dashboard', 'shareholders', 'orders', 'withdrawals', 'finance', 'operations'],
}

const DOES: Record<Role, readonly Action[]> = {
  superadmin: ['withdrawals.decide', 'rules.edit', 'ops.inject', 'ops.campaigns', 'ops.release', 'ops.dividends', 'exports',
    'orders.refund', 'stores.create', 'agents.appoint', 'shareholders.edit', 'finance.verify', 'ops.coins', 'stores.page', 'sim.run',
    // operator accounts and API keys need the server's administer permission
    'system.users', 'system.keys'],
  auditor: ['exports'],
  // refunds, stores, agents, shareholders and simulations need the server's operate permission (superadmin, operator)
  operator: ['rules.edit', 'ops.inject', 'ops.campaigns', 'ops.release',
    'orders.refund', 'stores.create', 'agents.appoint', 'shareholders.edit', 'ops.coins', 'stores.page', 'sim.run'],
  // the journal chain check needs the server's finance permission
  finance: ['withdrawals.decide', 'ops.dividends', 'exports', 'finance.verify'],
}

export function canSee(role: Role | undefined, section: Section): boolean {
  return !!role && (SEES[role] ?? []).includes(section)
}

export function can(role: Role | undefined, action: Action): boolean {
  return !!role && (DOES[role] ?? []).includes(action)
}

/** The roles that may take `action`, in ROLES order. */
export function whoCan(action: Action): Role[] {
  return ROLES.filter((r) => can(r, action))
}

/** The roles that see `section`, in ROLES order. */
export function whoSees(section: Section): Role[] {
  return ROLES.filter((r) => canSee(r, section))
}

export function isRole(v: unknown): v is Role {
  return v === 'superadmin' || v === 'operator' || v === 'finance' || v === 'auditor'
}
