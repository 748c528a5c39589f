import { describe, expect, it } from 'vitest'
import zhCN from '@shared/i18n/zh-CN'
import en from '@shared/i18n/en'
import {
  KNOWN_ACTIONS,
  KNOWN_VALUES,
  valueKey,
  LOGIN_REASONS,
  actionKey,
  auditApiQuery,
  auditFilters,
  filterQuery,
  logRoute,
  jobPercent,
  scheduledResult,
  loginApiQuery,
  loginFilters,
  newUserProblems,
  reasonKey,
  systemTab,
  targetRoute,
} from './system'

const lookup = (cat: object, key: string): unknown => key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], cat)

describe('system page helpers', () => {
  it('labels every known action and login reason in both languages, and only those', () => {
    for (const a of KNOWN_ACTIONS) {
      const k = actionKey(a)!
      expect(typeof lookup(zhCN, k), a).toBe('string')
      expect(typeof lookup(en, k), a).toBe('string')
    }
    for (const r of LOGIN_REASONS) {
      expect(typeof lookup(zhCN, reasonKey(r)!), r).toBe('string')
      expect(typeof lookup(en, reasonKey(r)!), r).toBe('string')
    }
    for (const v of KNOWN_VALUES) {
      expect(typeof lookup(zhCN, valueKey(v)!), v).toBe('string')
      expect(typeof lookup(en, valueKey(v)!), v).toBe('string')
    }
    expect(valueKey('{"exit":{"multiple":"2"}}')).toBeNull()
    expect(actionKey('something_new')).toBeNull()
    expect(actionKey('')).toBeNull()
    expect(reasonKey('locked_out')).toBeNull()
  })

  it('links member and store targets, nothing else', () => {
    expect(targetRoute('member:m-1')).toEqual({ name: 'member', params: { id: 'm-1' } })
    expect(targetRoute('merchant:s:2')).toEqual({ name: 'store', params: { id: 's:2' } })
    expect(targetRoute('user:admin')).toBeNull()
    expect(targetRoute('key:abcd1234')).toBeNull()
    expect(targetRoute('member:')).toBeNull()
    expect(targetRoute(':x')).toBeNull()
    expect(targetRoute('member')).toBeNull()
    expect(targetRoute(null)).toBeNull()
  })

  it('reads the tab and filters from the route query, dropping what is malformed', () => {
    expect(systemTab({})).toBeNull()
    expect(systemTab({ tab: 'audit' })).toBe('audit')
    expect(systemTab({ tab: 'nope' })).toBeNull()
    expect(auditFilters({ who: ' user:admin ', action: 'keys_create', target: 'member:a', from: '2026-12-01', to: '2026-12-03' })).toEqual({
      who: 'user:admin',
      action: 'keys_create',
      target: 'member:a',
      from: '2026-12-01',
      to: '2026-12-03',
    })
    expect(auditFilters({ from: '12/01/2026', to: ['2026-12-03', 'x'] })).toEqual({ who: '', action: '', target: '', from: '', to: '2026-12-03' })
    // a reversed range is put in order
    expect(auditFilters({ from: '2026-12-03', to: '2026-12-01' })).toMatchObject({ from: '2026-12-01', to: '2026-12-03' })
    expect(loginFilters({ username: 'bob', success: 'failed' })).toEqual({ username: 'bob', success: 'failed', from: '', to: '' })
    expect(loginFilters({ success: 'maybe' }).success).toBe('')
  })

  it('writes filters back as a route query without empty values', () => {
    expect(filterQuery('audit', { who: '', action: 'inject', target: '', from: '2026-12-01', to: '2026-12-02' })).toEqual({
      tab: 'audit',
      action: 'inject',
      from: '2026-12-01',
      to: '2026-12-02',
    })
    expect(filterQuery('users', {})).toEqual({ tab: 'users' })
  })

  it('asks the API for the newest first with only the filters set', () => {
    const none = { who: '', action: '', target: '', from: '', to: '' }
    expect(auditApiQuery(none)).toEqual({ order: 'desc', limit: 100 })
    expect(auditApiQuery({ ...none, action: 'keys_create', from: '2026-12-01', to: '2026-12-01' }, 42)).toEqual({
      order: 'desc',
      limit: 100,
      action: 'keys_create',
      from: '2026-12-01',
      to: '2026-12-01',
      after: 42,
    })
    // 0 is a cursor, not "none"
    expect(auditApiQuery(none, 0).after).toBe(0)
    expect(auditApiQuery(none, null).after).toBeUndefined()
    const all = { username: '', success: '' as const, from: '', to: '' }
    expect(loginApiQuery(all)).toEqual({ order: 'desc', limit: 100 })
    expect(loginApiQuery({ ...all, success: 'ok' }).success).toBe('true')
    expect(loginApiQuery({ ...all, success: 'failed', username: 'x' }, 7)).toEqual({ order: 'desc', limit: 100, success: 'false', username: 'x', after: 7 })
  })

  it('checks the add-user form by the server’s rules', () => {
    expect(newUserProblems({ username: 'ops.li-1', password: '0123456789', password2: '0123456789' })).toEqual({})
    expect(newUserProblems({ username: '', password: '', password2: '' })).toEqual({ username: 'usernameRequired', password: 'passwordShort' })
    expect(newUserProblems({ username: '李四', password: '012345678', password2: '0123456789' })).toEqual({
      username: 'usernameInvalid',
      password: 'passwordShort',
      password2: 'passwordMismatch',
    })
    expect(newUserProblems({ username: 'a'.repeat(33), password: '密码密码密码密码密码', password2: '密码密码密码密码密码' })).toEqual({ username: 'usernameInvalid' })
  })

  it('shows a job’s progress', () => {
    expect(jobPercent({ state: 'running', checked: 1, total: 3 })).toBe(33)
    expect(jobPercent({ state: 'running', checked: 0, total: 0 })).toBe(0)
    expect(jobPercent({ state: 'done', checked: 0, total: 0 })).toBe(100)
    expect(jobPercent({ state: 'failed', checked: 5, total: 4 })).toBe(100)
  })

  it('reads a scheduled job’s last result', () => {
    expect(scheduledResult('ok: daily at 00:10 Asia/Shanghai, 2026-12-03')).toEqual({
      ok: true,
      at: '00:10',
      day: '2026-12-03',
      raw: 'ok: daily at 00:10 Asia/Shanghai, 2026-12-03',
    })
    expect(scheduledResult('ok: something else')).toEqual({ ok: true, raw: 'ok: something else' })
    expect(scheduledResult('failed: disk full')).toEqual({ ok: false, raw: 'failed: disk full' })
    expect(scheduledResult(null)).toBeNull()
  })
})

describe('logRoute', () => {
  const r = logRoute('audit', auditFilters)
  it('writes the filters with the tab, and resets to the tab alone', () => {
    expect(r.toQuery({ who: 'user:admin', action: '', target: '', from: '', to: '' })).toEqual({ tab: 'audit', who: 'user:admin' })
    expect(r.resetQuery).toEqual({ tab: 'audit' })
  })
  it('follows the system page on its own tab only', () => {
    const at = (name: string, tab: string) => ({ name, query: { tab } }) as unknown as Parameters<typeof r.active>[0]
    expect(r.active(at('system', 'audit'))).toBe(true)
    expect(r.active(at('system', 'logins'))).toBe(false)
    expect(r.active(at('members', 'audit'))).toBe(false)
  })
})
