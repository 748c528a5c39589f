// The store token: taken from the address's fragment (`/store/#token=…`, as the platform or the
// console opens the page), then kept in memory and sessionStorage (this tab only) and removed
// from the address bar, so it is not in the history, a bookmark or a shared link.
import { ref } from 'vue'
import { tokenFromHash } from '../m/lib'

const KEY = 'zengzhi.store.token'

function initial(): string | null {
  const fromHash = tokenFromHash(location.hash)
  if (fromHash) {
    sessionStorage.setItem(KEY, fromHash)
    history.replaceState(history.state, '', location.pathname + location.search)
    return fromHash
  }
  return sessionStorage.getItem(KEY)
}

export const token = ref<string | null>(initial())
/** Why the token stopped working (the server's message), after a 401 or 403. */
export const tokenProblem = ref<string | null>(null)

export function dropToken(problem: string) {
  sessionStorage.removeItem(KEY)
  token.value = null
  tokenProblem.value = problem
}
