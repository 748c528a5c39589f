import { phoneAppI18n } from '@shared/i18n'

export const { i18n, currentLang, toggleLang } = phoneAppI18n('sp.title')
