// The store page's API client: the store token, the chosen language; a 401 ends the token.
import { createClient } from '@shared/api'
import { currentLang } from './i18n'
import { dropToken, token } from './session'

export const api = createClient({
  token: () => token.value,
  lang: currentLang,
  onUnauthorized: (e) => dropToken(e.message),
})
