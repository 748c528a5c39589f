import { describe, expect, it, vi } from 'vitest'
import { ApiError, buildPath, buildQuery, createClient } from './client'
import { pickMessage } from './message'

describe('pickMessage', () => {
  it('splits "中文 / English"', () => {
    expect(pickMessage('没有进行中的补贴活动 / no campaign is active', 'zh-CN')).toBe('没有进行中的补贴活动')
    expect(pickMessage('没有进行中的补贴活动 / no campaign is active', 'en')).toBe('no campaign is active')
  })
  it('finds the Chinese part whichever comes first', () => {
    expect(pickMessage('missing bearer token / 缺少令牌', 'zh-CN')).toBe('缺少令牌')
    expect(pickMessage('missing bearer token / 缺少令牌', 'en')).toBe('missing bearer token')
  })
  it('joins the parts of a chained message per language', () => {
    const m =
      'the rules are invalid / 规则无效 — exit.multiple: “200” 不是 0 到 100 之间的倍数 / "200" is not a multiple from 0 to 100'
    expect(pickMessage(m, 'zh-CN')).toBe('规则无效 — exit.multiple: “200” 不是 0 到 100 之间的倍数')
    expect(pickMessage(m, 'en')).toBe('the rules are invalid — "200" is not a multiple from 0 to 100')
  })
  it('keeps a message that is in one language only', () => {
    expect(pickMessage('internal error', 'zh-CN')).toBe('internal error')
    expect(pickMessage('a / b', 'zh-CN')).toBe('a / b')
    expect(pickMessage('仅中文', 'en')).toBe('仅中文')
  })
})

describe('buildPath / buildQuery', () => {
  it('fills and escapes path parameters', () => {
    expect(buildPath('/v1/admin/withdrawals/{id}/pay', { id: 'w1/2' })).toBe('/v1/admin/withdrawals/w1%2F2/pay')
    expect(() => buildPath('/v1/admin/withdrawals/{id}', {})).toThrow(/id/)
  })
  it('drops empty query values', () => {
    expect(buildQuery({ status: 'pending', member: '', after: undefined, limit: 50 })).toBe('?status=pending&limit=50')
    expect(buildQuery({})).toBe('')
  })
})

function answer(status: number, body: string, contentType = 'application/json') {
  return vi.fn(async () => new Response(body, { status, headers: { 'content-type': contentType } }))
}

describe('createClient', () => {
  it('sends the bearer token and JSON body, and returns the parsed answer', async () => {
    const fetch = answer(200, '{"ok":true,"seq":7,"at":"2026-01-01T00:00:00Z","exits":0}')
    const api = createClient({ fetch, token: () => 'secret', baseUrl: 'http://x' })
    const out = await api.post('/v1/admin/inject', { body: { amount: '100.00' } })
    expect(out.seq).toBe(7)
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit]
    expect(url).toBe('http://x/v1/admin/inject')
    expect(init.method).toBe('POST')
    expect((init.headers as Record<string, string>).authorization).toBe('Bearer secret')
    expect(init.body).toBe('{"amount":"100.00"}')
  })
  it('sends no token when there is none or the call is anonymous', async () => {
    const fetch = answer(200, '{}')
    await createClient({ fetch }).get('/v1/stats')
    await createClient({ fetch, token: () => 't' }).get('/v1/stats', { anonymous: true })
    for (const call of fetch.mock.calls as unknown as [string, RequestInit][]) {
      expect((call[1].headers as Record<string, string>).authorization).toBeUndefined()
    }
  })
  it('turns a JSON error into an ApiError with the code and the message in the chosen language', async () => {
    const body = '{"error":"no_campaign","message":"没有进行中的补贴活动 / no campaign is active"}'
    let lang: 'zh-CN' | 'en' = 'zh-CN'
    const api = createClient({ fetch: answer(409, body), lang: () => lang })
    const zh = await api.post('/v1/admin/campaigns/end', { body: {} }).catch((e) => e)
    expect(zh).toBeInstanceOf(ApiError)
    expect(zh.code).toBe('no_campaign')
    expect(zh.status).toBe(409)
    expect(zh.message).toBe('没有进行中的补贴活动')
    lang = 'en'
    const en = await api.post('/v1/admin/campaigns/end', { body: {} }).catch((e) => e)
    expect(en.message).toBe('no campaign is active')
  })
  it('keeps the whole error body (validation problems)', async () => {
    const body = JSON.stringify({ error: 'invalid_rules', message: 'x / 规则无效', problems: [{ path: 'exit.multiple', zh: '错', en: 'bad' }] })
    const err = await createClient({ fetch: answer(422, body) }).put('/v1/admin/rules', { body: {} }).catch((e) => e)
    expect(err.code).toBe('invalid_rules')
    expect(err.body.problems[0].path).toBe('exit.multiple')
  })
  it('calls onUnauthorized on 401, and only then', async () => {
    const onUnauthorized = vi.fn()
    const body = '{"error":"unauthorized","message":"unknown or revoked key / 密钥无效"}'
    const err = await createClient({ fetch: answer(401, body), onUnauthorized }).get('/v1/admin/rules').catch((e) => e)
    expect(err.code).toBe('unauthorized')
    expect(onUnauthorized).toHaveBeenCalledTimes(1)
    await createClient({ fetch: answer(403, '{"error":"forbidden","message":"a / 禁止"}'), onUnauthorized })
      .get('/v1/admin/rules')
      .catch(() => {})
    expect(onUnauthorized).toHaveBeenCalledTimes(1)
  })
  it('reports a network failure as network_error', async () => {
    const fetch = vi.fn(async () => {
      throw new TypeError('fetch failed')
    })
    const err = await createClient({ fetch, lang: () => 'en' }).get('/v1/stats').catch((e) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err.code).toBe('network_error')
    expect(err.status).toBe(0)
    expect(err.message).toMatch(/Cannot reach the server/)
  })
  it('reports an answer that is not JSON as bad_response with its status', async () => {
    const err = await createClient({ fetch: answer(502, '<html>Bad Gateway</html>', 'text/html') })
      .get('/v1/stats')
      .catch((e) => e)
    expect(err.code).toBe('bad_response')
    expect(err.status).toBe(502)
    expect(err.message).toMatch(/无法识别/)
    // and a 200 that is not JSON is an error too, not a string handed to the page
    const ok = await createClient({ fetch: answer(200, 'OK', 'text/plain') }).get('/v1/stats').catch((e) => e)
    expect(ok).toBeInstanceOf(ApiError)
    expect(ok.code).toBe('bad_response')
  })
  it('names a JSON error without a code by its status', async () => {
    const err = await createClient({ fetch: answer(500, '[]') }).get('/v1/stats').catch((e) => e)
    expect(err.code).toBe('http_500')
  })
  it('returns CSV exports as text', async () => {
    const api = createClient({ fetch: answer(200, 'member,points\na,1\n', 'text/csv') })
    expect(await api.get('/v1/admin/export/members.csv', { text: true })).toBe('member,points\na,1\n')
  })
  it('reports a cancelled request as aborted', async () => {
    const fetch = vi.fn(async () => {
      throw new DOMException('The operation was aborted.', 'AbortError')
    })
    const err = await createClient({ fetch }).get('/v1/stats').catch((e) => e)
    expect(err.code).toBe('aborted')
  })
})

// Checked by `npm run typecheck`: the generated types refuse routes and bodies the server lacks.
// (Never called; an unused @ts-expect-error is itself a type error.)
export function typeChecks(api: ReturnType<typeof createClient>) {
  // @ts-expect-error no such route in the OpenAPI document
  void api.get('/v1/admin/no-such-route')
  // @ts-expect-error inject takes { amount }
  void api.post('/v1/admin/inject', { body: { amount: 5 } })
  // @ts-expect-error the path parameter is required
  void api.post('/v1/admin/withdrawals/{id}/pay', {})
  void api.post('/v1/admin/withdrawals/{id}/pay', { params: { id: 'w1' }, body: {} })
  void api.post('/v1/admin/withdrawals/{id}/reject', { params: { id: 'w1' }, body: { reason: 'no' } })
  void api.get('/v1/auth/me')
}
export async function typeChecksOfAnswers(api: ReturnType<typeof createClient>) {
  const login = await api.post('/v1/auth/login', { body: { username: 'u', password: 'p' }, anonymous: true })
  const role: 'superadmin' | 'operator' | 'finance' | 'auditor' = login.user.role
  // @ts-expect-error the login takes a username and a password
  void api.post('/v1/auth/login', { body: { user: 'u' } })
  const stats = await api.get('/v1/stats')
  const price: string = stats.price
  // @ts-expect-error stats has no such field
  void stats.nonexistent
  return [role, price]
}
