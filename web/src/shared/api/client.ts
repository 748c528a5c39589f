// The fetch wrapper every page of every app (admin, member, store) uses: bearer token, JSON in
// and out, and one error type for everything that can go wrong.
import type { paths } from './schema'
import { pickMessage, type Lang } from './message'
import type { Hand, PendingRoute } from './types'

export type Method = 'get' | 'post' | 'put' | 'delete'

type Op<P, M extends Method> = P extends keyof paths ? NonNullable<paths[P][M & keyof paths[P]]> : never

type DocRoute<M extends Method> = { [P in keyof paths]: [Op<P, M>] extends [never] ? never : P }[keyof paths]
type PendingPath<M extends Method, R = PendingRoute> = R extends `${Uppercase<M>} ${infer P}` ? P : never

/** Routes of the OpenAPI document that have method M, plus the announced ones not in it yet. */
export type RouteWith<M extends Method> = DocRoute<M> | PendingPath<M>

type JsonOf<T> = [T] extends [never] ? never : T extends { content: { 'application/json': infer B } } ? B : never
type GeneratedBody<P, M extends Method> = [Op<P, M>] extends [never]
  ? never
  : Op<P, M> extends { requestBody?: infer RB } ? JsonOf<NonNullable<RB>> : never
type GeneratedResponse<P, M extends Method> = [Op<P, M>] extends [never]
  ? never
  : Op<P, M> extends { responses: { 200: { content: { 'application/json': infer R } } } } ? R : never

/** The request body: the generated schema's, else the hand-written one, else nothing. */
export type BodyOf<P extends string, M extends Method> = [GeneratedBody<P, M>] extends [never]
  ? `${Uppercase<M>} ${P}` extends keyof Hand ? Hand[`${Uppercase<M>} ${P}`] extends { body: infer B } ? B : undefined : undefined
  : GeneratedBody<P, M>

/** The answer: the generated schema's once the document has response schemas, else hand-written. */
export type ResponseOf<P extends string, M extends Method> = [GeneratedResponse<P, M>] extends [never]
  ? `${Uppercase<M>} ${P}` extends keyof Hand ? Hand[`${Uppercase<M>} ${P}`] extends { response: infer R } ? R : unknown : unknown
  : GeneratedResponse<P, M>

/** Per call: the request options, the path's parameters and the body, each required where the route needs it. */
export type CallOptions<P extends string, M extends Method> = RequestOptions &
  ({} extends PathParams<P> ? { params?: PathParams<P> } : { params: PathParams<P> }) &
  (BodyOf<P, M> extends undefined ? { body?: undefined } : { body: BodyOf<P, M> })
type OptionalIfEmpty<T> = {} extends T ? [opts?: T] : [opts: T]

type PathParams<P extends string> = P extends `${string}{${infer K}}${infer Rest}`
  ? { [k in K]: string } & PathParams<Rest>
  : unknown

/** What went wrong, in the chosen language, with the server's stable code when it sent one. */
export class ApiError extends Error {
  readonly code: string
  readonly status: number
  /** The parsed error body (e.g. `problems` and `warnings` of PUT /v1/admin/rules). */
  readonly body: Record<string, unknown> | undefined
  constructor(code: string, status: number, message: string, body?: Record<string, unknown>) {
    super(message)
    this.name = 'ApiError'
    this.code = code
    this.status = status
    this.body = body
  }
}

/** An error in words: its message (an ApiError's is already in the chosen language). */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

// Errors the client makes itself, in the server's own "中文 / English" form.
const CLIENT_MESSAGES = {
  network_error: '无法连接服务器，请检查网络后重试 / Cannot reach the server; check the network and retry',
  bad_response: '服务器返回了无法识别的内容 / The server sent an answer that is not JSON',
  aborted: '请求已取消 / The request was cancelled',
} as const

export interface ClientOptions {
  /** Prefix of every route; '' for the same origin. */
  baseUrl?: string
  token?: () => string | null | undefined
  lang?: () => Lang
  /** Called on every 401 (the token is no good any more). */
  onUnauthorized?: (error: ApiError) => void
  fetch?: typeof fetch
}

export interface RequestOptions {
  query?: Record<string, string | number | undefined | null>
  signal?: AbortSignal
  /** Send without the bearer token (e.g. the login itself). */
  anonymous?: boolean
  /** Answer as text (CSV exports) instead of JSON. */
  text?: boolean
  /** This token instead of the client's (e.g. checking a key before keeping it). */
  token?: string
}

export function buildPath(path: string, params: Record<string, string> = {}): string {
  return path.replace(/\{([^}]+)\}/g, (_, k: string) => {
    const v = params[k]
    if (v === undefined) throw new Error(`missing path parameter ${k} for ${path}`)
    return encodeURIComponent(v)
  })
}

export function buildQuery(query: RequestOptions['query']): string {
  if (!query) return ''
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') q.append(k, String(v))
  }
  const s = q.toString()
  return s ? `?${s}` : ''
}

export function createClient(options: ClientOptions = {}) {
  const lang = () => options.lang?.() ?? 'zh-CN'
  const doFetch = options.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a))

  function clientError(code: keyof typeof CLIENT_MESSAGES, status: number): ApiError {
    return new ApiError(code, status, pickMessage(CLIENT_MESSAGES[code], lang()))
  }

  async function send(method: Method, url: string, body: unknown, opts: RequestOptions): Promise<unknown> {
    const headers: Record<string, string> = { accept: opts.text ? 'text/csv, application/json' : 'application/json' }
    const token = opts.anonymous ? undefined : (opts.token ?? options.token?.())
    if (token) headers.authorization = `Bearer ${token}`
    let payload: string | undefined
    if (body !== undefined) {
      headers['content-type'] = 'application/json'
      payload = JSON.stringify(body)
    }
    let res: Response
    try {
      res = await doFetch((options.baseUrl ?? '') + url, { method: method.toUpperCase(), headers, body: payload, signal: opts.signal })
    } catch (e) {
      if (e instanceof DOMException && e.name === 'AbortError') throw clientError('aborted', 0)
      throw clientError('network_error', 0)
    }
    const raw = await res.text().catch(() => null)
    if (raw === null) throw clientError('network_error', res.status)
    if (res.ok && opts.text) return raw
    let parsed: unknown
    try {
      parsed = raw === '' ? null : JSON.parse(raw)
    } catch {
      // A proxy's HTML page, a truncated answer: say so, with the status.
      const err = clientError('bad_response', res.status)
      if (res.status === 401) options.onUnauthorized?.(err)
      throw err
    }
    if (res.ok) return parsed
    const obj = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined
    const code = typeof obj?.error === 'string' ? obj.error : `http_${res.status}`
    const message = typeof obj?.message === 'string' ? pickMessage(obj.message, lang()) : `HTTP ${res.status}`
    const err = new ApiError(code, res.status, message, obj)
    if (res.status === 401) options.onUnauthorized?.(err)
    throw err
  }

  function call<M extends Method>(method: M) {
    return <P extends RouteWith<M>>(path: P, ...[opts]: OptionalIfEmpty<CallOptions<P, M>>): Promise<ResponseOf<P, M>> => {
      const o = (opts ?? {}) as RequestOptions & { params?: Record<string, string>; body?: unknown }
      const url = buildPath(path, o.params) + buildQuery(o.query)
      return send(method, url, o.body, o) as Promise<ResponseOf<P, M>>
    }
  }

  return {
    get: call('get'),
    post: call('post'),
    put: call('put'),
    delete: call('delete'),
  }
}

export type Client = ReturnType<typeof createClient>
