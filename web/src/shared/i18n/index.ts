// One catalogue for every app; zh-CN first, English second. The choice is remembered.
import { createI18n } from 'vue-i18n'
import zhCN from './zh-CN'
import en from './en'
import type { Lang } from '../api/message'

export const LANGS: { value: Lang; label: string }[] = [
  { value: 'zh-CN', label: '简体中文' },
  { value: 'en', label: 'English' },
]

const STORAGE_KEY = 'zengzhi.lang'

export const messages = { 'zh-CN': zhCN, en }

export function storedLang(storage: Pick<Storage, 'getItem'> | undefined = globalThis.localStorage): Lang {
  const v = storage?.getItem(STORAGE_KEY)
  return v === 'en' || v === 'zh-CN' ? v : 'zh-CN'
}

export function rememberLang(lang: Lang, storage: Pick<Storage, 'setItem'> | undefined = globalThis.localStorage) {
  storage?.setItem(STORAGE_KEY, lang)
}

export function makeI18n(lang: Lang = storedLang()) {
  return createI18n({
    legacy: false,
    locale: lang,
    fallbackLocale: 'zh-CN',
    messages,
    missingWarn: false,
    fallbackWarn: false,
  })
}
