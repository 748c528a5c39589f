import { watch } from 'vue'
import { makeI18n, rememberLang } from '@shared/i18n'
import type { Lang } from '@shared/api'

export const i18n = makeI18n()

export function currentLang(): Lang {
  return i18n.global.locale.value as Lang
}

export function toggleLang() {
  i18n.global.locale.value = currentLang() === 'zh-CN' ? 'en' : 'zh-CN'
}

watch(
  () => i18n.global.locale.value,
  (lang) => {
    rememberLang(lang as Lang)
    document.documentElement.lang = lang
    document.title = i18n.global.t('sp.title')
  },
  { immediate: true },
)
