// One catalogue for every app; zh-CN first, English second. The choice is remembered.
import { watch } from 'vue'
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

/**
 * The catalogue of a phone app (the member and store pages): the language remembered, the
 * document's `lang` and title (the message `titleKey`) kept in step, one button to switch.
 */
export function phoneAppI18n(titleKey: string) {
  const i18n = makeI18n()
  const currentLang = (): Lang => i18n.global.locale.value as Lang
  const toggleLang = () => {
    i18n.global.locale.value = currentLang() === 'zh-CN' ? 'en' : 'zh-CN'
  }
  watch(
    () => i18n.global.locale.value,
    (lang) => {
      rememberLang(lang as Lang)
      document.documentElement.lang = lang
      document.title = i18n.global.t(titleKey)
    },
    { immediate: true },
  )
  return { i18n, currentLang, toggleLang }
}
