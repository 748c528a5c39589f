// The system page's plain logic: its tabs and the log filters as route queries, the filters as
// API queries, labels for the operation log's actions and links for its targets, and the add-user
// form's checks (the server's own rules, so a mistake is named before it is sent).
import type { LocationQuery, LocationQueryRaw, RouteLocationNormalizedLoaded, RouteLocationRaw } from 'vue-router'
import type { components, operations } from '@shared/api/schema'
import { date, one, oneOf } from './query'

type Schemas = components['schemas']
export type UserItem = Schemas['UserItem']
export type ApiKeyInfo = Schemas['ApiKeyInfo']
export type AuditRecord = Schemas['AuditRecord']
export type LoginRecord = Schemas['LoginRecord']
export type Job = Schemas['Job']
export type ScheduledJob = Schemas['ScheduledJob']
export type AuditQuery = NonNullable<operations['audit_log']['parameters']['query']>
/** The client sends query values as text: `success` is `true` / `false`. */
export type LoginQuery = Omit<NonNullable<operations['login_log']['parameters']['query']>, 'success'> & { success?: 'true' | 'false' }

export const TABS = ['users', 'keys', 'audit', 'logins', 'jobs'] as const
export type SystemTab = (typeof TABS)[number]

export const KEY_SCOPES = ['admin', 'integration', 'readonly'] as const
export type KeyScope = (typeof KEY_SCOPES)[number]
export const LOGIN_REASONS = ['ok', 'unknown_user', 'wrong_password', 'disabled', 'rate_limited'] as const
export const LOGIN_OUTCOMES = ['ok', 'failed'] as const
export type LoginOutcome = (typeof LOGIN_OUTCOMES)[number]

/** The actions the server writes to the operation log (each has a label in both languages). */
export const KNOWN_ACTIONS = [
  'users_create',
  'users_disable',
  'keys_create',
  'keys_revoke',
  'logout',
  'update_rules',
  'inject',
  'start_campaign',
  'end_campaign',
  'release_locked',
  'distribute_dividends',
  'pay_withdrawal',
  'reject_withdrawal',
  'refund_order',
  'register_member',
  'register_merchant',
  'appoint_agent',
  'set_shareholder',
  'grant_coins',
  'grant_coins_batch',
  'verify_journal',
] as const

/** The i18n key of an action's label, or null for one this console does not know (shown raw). */
export function actionKey(action: string): string | null {
  return (KNOWN_ACTIONS as readonly string[]).includes(action) ? `system.actionNames.${action}` : null
}

/** The before / after values the server writes for the changes it logs (each has a label). */
export const KNOWN_VALUES = [
  'enabled',
  'disabled',
  'active',
  'revoked',
  'pending',
  'paid',
  'rejected',
  'refunded',
  'superadmin',
  'operator',
  'finance',
  'auditor',
  'admin',
  'integration',
  'readonly',
] as const

/** The i18n key of a logged before / after value, or null (shown as it is). */
export function valueKey(value: string): string | null {
  return (KNOWN_VALUES as readonly string[]).includes(value) ? `system.values.${value}` : null
}

/** The i18n key of a login attempt's reason, or null for an unknown one (shown raw). */
export function reasonKey(reason: string): string | null {
  return (LOGIN_REASONS as readonly string[]).includes(reason) ? `system.reasons.${reason}` : null
}

/** Where an operation log target links to: a member or a store page; nothing for the rest. */
export function targetRoute(target: string | null | undefined): RouteLocationRaw | null {
  if (!target) return null
  const i = target.indexOf(':')
  if (i <= 0 || i === target.length - 1) return null
  const kind = target.slice(0, i)
  const id = target.slice(i + 1)
  if (kind === 'member') return { name: 'member', params: { id } }
  if (kind === 'merchant') return { name: 'store', params: { id } }
  return null
}

/** The tab in the route query, or null when there is none (or not one of ours). */
export function systemTab(query: LocationQuery): SystemTab | null {
  return oneOf(query.tab, TABS) || null
}

export interface AuditFilters {
  who: string
  action: string
  target: string
  from: string
  to: string
}
export interface LoginFilters {
  username: string
  success: LoginOutcome | ''
  from: string
  to: string
}

/** A day range that is whole and in order, else none (the server refuses a reversed one). */
function range(from: string, to: string): { from: string; to: string } {
  if (!from || !to) return { from, to }
  return from <= to ? { from, to } : { from: to, to: from }
}

export function auditFilters(query: LocationQuery): AuditFilters {
  const r = range(date(query.from), date(query.to))
  return { who: one(query.who).trim(), action: one(query.action).trim(), target: one(query.target).trim(), ...r }
}

export function loginFilters(query: LocationQuery): LoginFilters {
  const r = range(date(query.from), date(query.to))
  return { username: one(query.username).trim(), success: oneOf(query.success, LOGIN_OUTCOMES), ...r }
}

/** Filters as a route query: the tab and what is set, nothing empty. */
export function filterQuery(tab: SystemTab, f: object): LocationQueryRaw {
  const out: LocationQueryRaw = { tab }
  for (const [k, v] of Object.entries(f)) if (typeof v === 'string' && v !== '') out[k] = v
  return out
}

/** A log tab's filters in the route query: read, written with the tab, reset, followed only on that tab. */
export function logRoute<F extends object>(tab: SystemTab, parse: (query: LocationQuery) => F) {
  return {
    parse,
    toQuery: (f: F) => filterQuery(tab, f),
    resetQuery: filterQuery(tab, {}),
    active: (r: RouteLocationNormalizedLoaded) => r.name === 'system' && systemTab(r.query) === tab,
  }
}

export const LOG_PAGE = 100

/** The operation log's API query: newest first, only the filters that are set. */
export function auditApiQuery(f: AuditFilters, after?: number | null): AuditQuery {
  const q: AuditQuery = { order: 'desc', limit: LOG_PAGE }
  if (f.who) q.who = f.who
  if (f.action) q.action = f.action
  if (f.target) q.target = f.target
  if (f.from) q.from = f.from
  if (f.to) q.to = f.to
  if (after !== undefined && after !== null) q.after = after
  return q
}

/** The login log's API query: newest first, only the filters that are set. */
export function loginApiQuery(f: LoginFilters, after?: number | null): LoginQuery {
  const q: LoginQuery = { order: 'desc', limit: LOG_PAGE }
  if (f.username) q.username = f.username
  if (f.success) q.success = f.success === 'ok' ? 'true' : 'false'
  if (f.from) q.from = f.from
  if (f.to) q.to = f.to
  if (after !== undefined && after !== null) q.after = after
  return q
}

/** The server's rules for a user name (1 to 32 of A–Z a–z 0–9 . _ -). */
export const USERNAME = /^[A-Za-z0-9._-]{1,32}$/
export const MIN_PASSWORD = 10

export interface NewUserForm {
  username: string
  password: string
  password2: string
}
export type NewUserProblem = 'usernameRequired' | 'usernameInvalid' | 'passwordShort' | 'passwordMismatch'

/** What is wrong with the add-user form, field by field (an i18n key under system.users.problems). */
export function newUserProblems(f: NewUserForm): Partial<Record<keyof NewUserForm, NewUserProblem>> {
  const out: Partial<Record<keyof NewUserForm, NewUserProblem>> = {}
  const name = f.username.trim()
  if (!name) out.username = 'usernameRequired'
  else if (!USERNAME.test(name)) out.username = 'usernameInvalid'
  if ([...f.password].length < MIN_PASSWORD) out.password = 'passwordShort'
  if (f.password2 !== f.password) out.password2 = 'passwordMismatch'
  return out
}

/** A job's progress in percent (0 to 100, whole). */
export function jobPercent(j: Pick<Job, 'checked' | 'total' | 'state'>): number {
  if (j.state === 'done') return 100
  if (!j.total) return 0
  return Math.min(100, Math.floor((j.checked / j.total) * 100))
}

/** A scheduled job's last result as the server words it (`ok: daily at HH:MM Asia/Shanghai, YYYY-MM-DD`), read. */
export function scheduledResult(text: string | null | undefined): { ok: boolean; day?: string; at?: string; raw: string } | null {
  if (!text) return null
  const ok = text.startsWith('ok')
  const detail = ok ? text.replace(/^ok:?\s*/, '') : text
  const m = /^daily at (\d{2}:\d{2}) Asia\/Shanghai, (\d{4}-\d{2}-\d{2})$/.exec(detail)
  return m ? { ok, at: m[1], day: m[2], raw: text } : { ok, raw: text }
}
