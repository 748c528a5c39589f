// The console's API client: the session's token, the chosen language, and back to the login
// page when the server says the token is no good.
import { createClient } from '@shared/api'
import { currentLang } from './i18n'
import { useSession } from './stores/session'

export const api = createClient({
  token: () => useSession().token,
  lang: currentLang,
  onUnauthorized: () => useSession().expire(),
})
