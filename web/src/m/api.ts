// The member app's API client: the member's token, the chosen language; a 401 ends the token.
import { ApiError, createClient, pickMessage } from '@shared/api'
import { currentLang } from './i18n'
import { dropToken, token } from './session'

export const api = createClient({
  token: () => token.value,
  lang: currentLang,
  onUnauthorized: (e) => dropToken(e.message),
})

/** The demo's own routes (`--demo` only; not in the API document). */
export async function demoCall<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  let res: Response
  try {
    res = await fetch(path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch {
    throw new ApiError('network_error', 0, pickMessage('无法连接服务器 / Cannot reach the server', currentLang()))
  }
  const data = await res.json().catch(() => null)
  if (!res.ok) {
    const msg = typeof data?.message === 'string' ? data.message : `HTTP ${res.status}`
    throw new ApiError(typeof data?.error === 'string' ? data.error : `http_${res.status}`, res.status, pickMessage(msg, currentLang()), data ?? undefined)
  }
  return data as T
}
