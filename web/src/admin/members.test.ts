import { describe, expect, it } from 'vitest'
import {
  apiQuery,
  exportQuery,
  memberFilters,
  orderFilters,
  percentOf,
  percentText,
  recallListQuery,
  referralTree,
  rememberListQuery,
  toQuery,
  type ReferralNode,
} from './members'

describe('members list filters in the route query', () => {
  it('reads what is valid and drops the rest', () => {
    const f = memberFilters({ q: ' u0001 ', status: 'holding', sort: 'points', order: 'asc', page: '3', page_size: '50', joined_from: '2026-11-01', joined_to: 'soon' })
    expect(f).toEqual({
      q: 'u0001',
      referrer: '',
      store: '',
      status: 'holding',
      joined_from: '2026-11-01',
      joined_to: '',
      sort: 'points',
      order: 'asc',
      page: 3,
      page_size: 50,
    })
    const bad = memberFilters({ status: 'rich', sort: 'name', order: 'up', page: '-1', page_size: '7' })
    expect([bad.status, bad.sort, bad.order, bad.page, bad.page_size]).toEqual(['', '', '', 1, 20])
  })
  it('writes back only what differs from the defaults; the API always gets a page', () => {
    const f = memberFilters({ q: 'u1', page: '1', page_size: '20' })
    expect(toQuery(f)).toEqual({ q: 'u1' })
    expect(apiQuery(f)).toEqual({ q: 'u1', page: 1, page_size: 20 })
    expect(exportQuery(memberFilters({ store: 's1', page: '4', page_size: '100' }))).toEqual({ store: 's1' })
    expect(toQuery(memberFilters(toQuery(memberFilters({ referrer: 'u9', page: '2' }))))).toEqual({ referrer: 'u9', page: '2' })
  })
  it('orders: dates, store, member, status', () => {
    const f = orderFilters({ from: '2026-12-01', to: '2026-12-02', status: 'pending', member: 'u7', store: 'dg-1' })
    expect(toQuery(f)).toEqual({ from: '2026-12-01', to: '2026-12-02', status: 'pending', member: 'u7', store: 'dg-1' })
    expect(orderFilters({ status: 'paid' }).status).toBe('')
  })
  it('remembers the list’s query for the detail’s back button', () => {
    const store = new Map<string, string>()
    const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) }
    expect(recallListQuery(storage)).toEqual({})
    rememberListQuery({ status: 'exited', page: '2', junk: 'x' }, storage)
    expect(recallListQuery(storage)).toEqual({ status: 'exited', page: '2' })
  })
})

describe('progress rates', () => {
  it('are percentages for the bar, clamped to 0..100, without floats from the string', () => {
    expect(percentOf('0.523456')).toBe(52.34)
    expect(percentOf('0')).toBe(0)
    expect(percentOf('1')).toBe(100)
    expect(percentOf('1.5')).toBe(100)
    expect(percentOf(null)).toBe(0)
    expect(percentText('0.523456')).toBe('52.34%')
    expect(percentText('0.000001')).toBe('0.00%')
    expect(percentText('1')).toBe('100.00%')
  })
})

describe('referral tree', () => {
  const node = (member: string, parent: string, depth: number): ReferralNode => ({
    member,
    parent,
    depth,
    points: '0',
    value_now: '0.00',
    cycle_consumption: '0.00',
    lifetime_consumption: '0.00',
    bought: false,
    direct_referrals: 0,
  })
  it('nests the breadth-first list under the member', () => {
    const tree = referralTree('u1', [node('u2', 'u1', 1), node('u3', 'u1', 1), node('u4', 'u2', 2), node('u5', 'u4', 3)])
    expect(tree.map((t) => t.id)).toEqual(['u2', 'u3'])
    expect(tree[0]!.children.map((t) => t.id)).toEqual(['u4'])
    expect(tree[0]!.children[0]!.children.map((t) => t.id)).toEqual(['u5'])
    expect(referralTree('u1', [])).toEqual([])
  })
})
