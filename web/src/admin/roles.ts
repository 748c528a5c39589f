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

export type Action =
  | 'withdrawals.decide'
  | 'rules.edit'
  | 'ops.inject'
  | 'ops.campaigns'
  | 'ops.release'
  | 'ops.dividends'
  | 'exports'
  | 'finance.verify'
  | 'ops.coins'

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
]

const SEES: Record<Role, readonly Section[]> = {
  superadmin: SECTIONS,
  // read-only everything
  auditor: SECTIONS,
  // members, stores, agents, shareholders, campaigns, injections, coins, release, rule proposals
  operator: ['dashboard', 'members', 'stores', 'agents', 'shareholders', 'rules', 'operations'],
  // withdrawals, exports, reconciliation, dividends (on the operations page)
  finance: ['dashboard', 'orders', 'withdrawals', 'finance', 'operations'],
}

const DOES: Record<Role, readonly Action[]> = {
  superadmin: ['withdrawals.decide', 'rules.edit', 'ops.inject', 'ops.campaigns', 'ops.release', 'ops.dividends', 'exports'],
  auditor: ['exports'],
  operator: ['rules.edit', 'ops.inject', 'ops.campaigns', 'ops.release'],
  finance: ['withdrawals.decide', 'ops.dividends', 'exports'],
}
// The journal chain check (the server's finance permission) and legacy-debt coins (operate).
for (const r of ['superadmin', 'finance'] as const) (DOES[r] as Action[]).push('finance.verify')
for (const r of ['superadmin', 'operator'] as const) (DOES[r] as Action[]).push('ops.coins')

export function canSee(role: Role | undefined, section: Section): boolean {
  return !!role && (SEES[role] ?? []).includes(section)
}

export function can(role: Role | undefined, action: Action): boolean {
  return !!role && (DOES[role] ?? []).includes(action)
}

export function isRole(v: unknown): v is Role {
  return v === 'superadmin' || v === 'operator' || v === 'finance' || v === 'auditor'
}
