import { describe, expect, it } from 'vitest'
import zhCN from './zh-CN'
import en from './en'
import { makeI18n, rememberLang, storedLang } from './index'
import { RULE_FIELDS } from '../rules-meta'

function flatten(obj: object, prefix = ''): Map<string, string> {
  const out = new Map<string, string>()
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k
    if (typeof v === 'string') out.set(key, v)
    else for (const [kk, vv] of flatten(v, key)) out.set(kk, vv)
  }
  return out
}

const zh = flatten(zhCN)
const e = flatten(en)
const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()

describe('i18n catalogues', () => {
  it('have the same keys', () => {
    expect([...zh.keys()].filter((k) => !e.has(k))).toEqual([])
    expect([...e.keys()].filter((k) => !zh.has(k))).toEqual([])
    expect(zh.size).toBeGreaterThan(100)
  })
  it('have no empty text, and Chinese in the Chinese one', () => {
    for (const [k, v] of [...zh, ...e]) expect(v.trim(), k).not.toBe('')
    for (const [k, v] of zh) {
      if (k.startsWith('app.') || /^\W*$/.test(v)) continue
      // a few labels are codes or English on purpose ("API 密钥" still has Chinese)
      expect(/[\u4e00-\u9fff]/.test(v), `${k}: ${v}`).toBe(true)
    }
  })
  it('use the same placeholders in both languages', () => {
    for (const [k, v] of zh) expect(placeholders(e.get(k)!), k).toEqual(placeholders(v))
  })
  it('label and explain every rules key', () => {
    for (const f of RULE_FIELDS) {
      for (const cat of [zh, e]) {
        expect(cat.get(`rules.keys.${f.section}.${f.key}.label`), `${f.section}.${f.key}`).toBeTruthy()
        expect(cat.get(`rules.keys.${f.section}.${f.key}.help`), `${f.section}.${f.key}`).toBeTruthy()
      }
      expect(zh.get(`rules.sections.${f.section}`)).toBeTruthy()
    }
  })
  it('translates with vue-i18n, zh-CN by default', () => {
    const i18n = makeI18n('zh-CN')
    expect(i18n.global.t('withdrawals.batchPay', { n: 3 })).toBe('批量打款（3）')
    i18n.global.locale.value = 'en'
    expect(i18n.global.t('withdrawals.batchPay', { n: 3 })).toBe('Pay selected (3)')
  })
  it('remembers the language, zh-CN when nothing or garbage is stored', () => {
    const store = new Map<string, string>()
    const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) }
    expect(storedLang(storage)).toBe('zh-CN')
    rememberLang('en', storage)
    expect(storedLang(storage)).toBe('en')
    store.set('zengzhi.lang', 'fr')
    expect(storedLang(storage)).toBe('zh-CN')
  })
})
