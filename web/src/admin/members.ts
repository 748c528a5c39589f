// The members and orders pages' plain logic: their filters as route queries (so a reload, a
// shared link or "back" keeps them), progress rates as percentages, the referral tree's shape.
import type { LocationQuery, LocationQueryRaw } from 'vue-router'
import type { components } from '@shared/api/schema'
import { parseScaled, scaledToString } from '@shared/format'
import { date, one, oneOf } from './query'

type Schemas = components['schemas']
export type MemberRow = Schemas['MemberRow']
export type MemberDetail = Schemas['MemberDetail']
export type MemberStatus = Schemas['MemberStatus']
export type LedgerItem = Schemas['MemberLedgerItem']
export type OrderRow = Schemas['OrderRowView']
export type OrderStatus = Schemas['OrderStatus']
export type ReferralNode = Schemas['ReferralNode']

export const MEMBER_STATUSES: MemberStatus[] = ['holding', 'exited', 'never_bought', 'idle']
export const ORDER_STATUSES: OrderStatus[] = ['pending', 'settled', 'refunded', 'rejected']
/** The ledger's reasons as the filter offers them: `reward` is every reward kind. */
export const LEDGER_REASONS = [
  'order',
  'reward',
  'reward_direct',
  'reward_indirect',
  'reward_recruiter',
  'reward_district',
  'reward_city',
  'reward_province',
  'reward_peer',
  'sell',
  'redeem',
  'withdraw',
  'exit',
  'release',
  'dividend',
  'coins',
] as const
export const MEMBER_SORTS = ['joined', 'points', 'value', 'cash', 'coins', 'cycle_consumption', 'lifetime_consumption'] as const
export type MemberSort = (typeof MEMBER_SORTS)[number]
export const PAGE_SIZES = [20, 50, 100, 200]

export interface MemberFilters {
  q: string
  referrer: string
  store: string
  status: MemberStatus | ''
  joined_from: string
  joined_to: string
  sort: MemberSort | ''
  order: 'asc' | 'desc' | ''
  page: number
  page_size: number
}

export interface OrderFilters {
  from: string
  to: string
  store: string
  member: string
  status: OrderStatus | ''
  page: number
  page_size: number
}

const positive = (v: LocationQuery[string] | undefined, fallback: number, max = Number.MAX_SAFE_INTEGER) => {
  const n = Number(one(v))
  return Number.isInteger(n) && n >= 1 && n <= max ? n : fallback
}
const pageSize = (v: LocationQuery[string] | undefined) => {
  const n = positive(v, 20, 200)
  return PAGE_SIZES.includes(n) ? n : 20
}

/** The members list's filters from the route query; anything unknown or malformed is dropped. */
export function memberFilters(query: LocationQuery): MemberFilters {
  return {
    q: one(query.q).trim(),
    referrer: one(query.referrer).trim(),
    store: one(query.store).trim(),
    status: oneOf(query.status, MEMBER_STATUSES),
    joined_from: date(query.joined_from),
    joined_to: date(query.joined_to),
    sort: oneOf(query.sort, MEMBER_SORTS),
    order: oneOf(query.order, ['asc', 'desc'] as const),
    page: positive(query.page, 1),
    page_size: pageSize(query.page_size),
  }
}

export function orderFilters(query: LocationQuery): OrderFilters {
  return {
    from: date(query.from),
    to: date(query.to),
    store: one(query.store).trim(),
    member: one(query.member).trim(),
    status: oneOf(query.status, ORDER_STATUSES),
    page: positive(query.page, 1),
    page_size: pageSize(query.page_size),
  }
}

/** Filters as a route query (and an API query): empty values and the defaults left out. */
export function toQuery(f: MemberFilters | OrderFilters): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(f)) {
    if (v === '' || v === undefined || v === null) continue
    if (k === 'page' && v === 1) continue
    if (k === 'page_size' && v === 20) continue
    out[k] = String(v)
  }
  return out
}

/** The API's query for a page of the list (page and size always given). */
export function apiQuery(f: MemberFilters | OrderFilters): Record<string, string | number> {
  return { ...toQuery(f), page: f.page, page_size: f.page_size }
}

/** The export's query: the same filters, no paging. */
export function exportQuery(f: MemberFilters | OrderFilters): Record<string, string> {
  const { page: _p, page_size: _s, ...rest } = toQuery(f)
  return rest
}

/** A rate of the API ("0.523456", a fraction with up to 6 decimals) as a percentage for a bar, 0 to 100. */
export function percentOf(rate: string | null | undefined): number {
  const ppm = parseScaled(rate, 6)
  if (ppm === null || ppm <= 0n) return 0
  if (ppm >= 1_000_000n) return 100
  // ppm / 10,000 with 2 decimals, by BigInt then to a number (a bar's width only)
  return Number(scaledToString(ppm / 100n, 2))
}

/** A rate as "52.34%" (2 decimals, truncated), for text beside a bar. */
export function percentText(rate: string | null | undefined): string {
  const ppm = parseScaled(rate, 6)
  if (ppm === null) return '—'
  return scaledToString(ppm / 100n, 2) + '%'
}

export interface TreeNode {
  id: string
  node: ReferralNode
  children: TreeNode[]
}

/** The breadth-first list of invitees as a tree under the member asked for. */
export function referralTree(root: string, nodes: ReferralNode[]): TreeNode[] {
  const byId = new Map<string, TreeNode>()
  const top: TreeNode[] = []
  for (const n of nodes) {
    const t: TreeNode = { id: n.member, node: n, children: [] }
    byId.set(n.member, t)
    const parent = n.parent === root ? undefined : byId.get(n.parent)
    if (parent) parent.children.push(t)
    else top.push(t)
  }
  return top
}

// The list's query last seen, so the detail's "back" returns to the same filtered page.
const LIST_KEY = 'zengzhi.admin.members.list'
export function rememberListQuery(query: LocationQuery, storage: Pick<Storage, 'setItem'> | undefined = globalThis.sessionStorage) {
  try {
    storage?.setItem(LIST_KEY, JSON.stringify(toQuery(memberFilters(query))))
  } catch {
    // storage full or unavailable: back then goes to the unfiltered list
  }
}
export function recallListQuery(storage: Pick<Storage, 'getItem'> | undefined = globalThis.sessionStorage): LocationQueryRaw {
  try {
    const raw = storage?.getItem(LIST_KEY)
    if (!raw) return {}
    const q = JSON.parse(raw) as Record<string, unknown>
    return toQuery(memberFilters(q as LocationQuery))
  } catch {
    return {}
  }
}
