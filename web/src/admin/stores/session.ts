// Who is signed in. The token lives in memory and in sessionStorage (this tab only, gone when
// the tab closes), never in localStorage.
import { defineStore } from 'pinia'
import { ApiError, type User } from '@shared/api'
import { api } from '../api'
import { isRole } from '../roles'

const STORAGE_KEY = 'zengzhi.admin.session'

interface Saved {
  token: string
  user: User
  expiresAt: string | null
  kind: 'password' | 'key'
  roleGuessed: boolean
}

function load(): Saved | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY)
    if (!raw) return null
    const s = JSON.parse(raw) as Saved
    if (typeof s.token !== 'string' || !s.user || !isRole(s.user.role)) return null
    if (s.expiresAt && Date.parse(s.expiresAt) <= Date.now()) return null
    return s
  } catch {
    return null
  }
}

export const useSession = defineStore('session', {
  state: () => {
    const s = load()
    return {
      token: s?.token ?? (null as string | null),
      user: s?.user ?? (null as User | null),
      expiresAt: s?.expiresAt ?? (null as string | null),
      kind: s?.kind ?? ('key' as Saved['kind']),
      roleGuessed: s?.roleGuessed ?? false,
      /** Why the last session ended ('expired' after a 401), shown on the login page. */
      endReason: null as null | 'expired' | 'logout',
    }
  },
  getters: {
    signedIn: (s) => !!s.token && !!s.user,
    role: (s) => s.user?.role,
  },
  actions: {
    keep(saved: Saved) {
      this.token = saved.token
      this.user = saved.user
      this.expiresAt = saved.expiresAt
      this.kind = saved.kind
      this.roleGuessed = saved.roleGuessed
      this.endReason = null
      sessionStorage.setItem(STORAGE_KEY, JSON.stringify(saved))
    },
    clear(reason: 'expired' | 'logout') {
      this.token = null
      this.user = null
      this.expiresAt = null
      this.roleGuessed = false
      this.endReason = reason
      sessionStorage.removeItem(STORAGE_KEY)
    },
    async loginPassword(username: string, password: string) {
      const res = await api.post('/v1/auth/login', { body: { username, password }, anonymous: true })
      const me = await this.whoAmI(res.token)
      this.keep({ token: res.token, user: me.user, expiresAt: res.expires_at ?? null, kind: 'password', roleGuessed: me.guessed })
    },
    async loginKey(key: string) {
      const token = key.trim()
      const me = await this.whoAmI(token)
      this.keep({ token, user: me.user, expiresAt: null, kind: 'key', roleGuessed: me.guessed })
    },
    /** GET /v1/auth/me; while the server lacks it, a read of the admin API proves the key. */
    async whoAmI(token: string): Promise<{ user: User; guessed: boolean }> {
      try {
        const user = await api.get('/v1/auth/me', { token })
        if (!isRole(user.role)) throw new ApiError('bad_response', 200, `unknown role ${String(user.role)}`)
        return { user, guessed: false }
      } catch (e) {
        if (!(e instanceof ApiError) || e.code !== 'not_found' || e.status !== 404) throw e
      }
      await api.get('/v1/admin/withdrawals', { token, query: { limit: 1 } })
      // no part of the secret is shown
      return { user: { username: 'API key', role: 'superadmin' }, guessed: true }
    },
    async logout() {
      if (this.kind === 'password' && this.token) {
        await api.post('/v1/auth/logout').catch(() => undefined)
      }
      this.clear('logout')
    },
    /** The server answered 401 to a request made with this session's token. */
    expire() {
      if (!this.token) return
      this.clear('expired')
      // the router guard sends the page to the login form
      void import('../router').then(({ router }) => {
        const current = router.currentRoute.value
        if (current.name !== 'login') void router.replace({ name: 'login', query: { redirect: current.fullPath } })
      })
    },
  },
})
