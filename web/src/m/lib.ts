// Pure helpers of the member app (tested in lib.test.ts): the token a platform passes in the
// address's fragment, progress to the cap from the API's decimal strings, input checks, and a
// sparkline's points, which rewards by kind the invite page lists. No floats in money:
// everything is BigInt on fen / point units.
import type { components } from '@shared/api/schema'
import { parseScaled, scaledToString } from '@shared/format'

/** The member token of a fragment such as `#token=abc` or `#/sell?x=1&token=abc`, if any. */
export function tokenFromHash(hash: string): string | null {
  const h = hash.replace(/^#\/?/, '')
  const query = h.includes('?') ? h.slice(h.indexOf('?') + 1) : h
  for (const part of query.split('&')) {
    const [k, ...v] = part.split('=')
    if (k === 'token') {
      const value = decodeURIComponent(v.join('='))
      return value.trim() === '' ? null : value.trim()
    }
  }
  return null
}

export interface CapProgress {
  /** Tenths of a percent, 0 to 1000. */
  permille: number
  /** "45.2%". */
  text: string
}

/** (realised + value now) ÷ cap, from money strings, as tenths of a percent (floor, capped at 100%). */
export function capProgress(realized: string, valueNow: string, cap: string): CapProgress {
  const r = parseScaled(realized, 2) ?? 0n
  const v = parseScaled(valueNow, 2) ?? 0n
  const c = parseScaled(cap, 2) ?? 0n
  let p = c > 0n ? ((r + v) * 1000n) / c : 0n
  if (p < 0n) p = 0n
  if (p > 1000n) p = 1000n
  return { permille: Number(p), text: scaledToString(p, 1) + '%' }
}

/** 1 − a rate ("0.2" → "0.8"), as a decimal string with 6 decimals trimmed. */
export function complement(rate: string): string {
  const ppm = parseScaled(rate, 6) ?? 0n
  return scaledToString(1_000_000n - ppm, 6).replace(/\.?0+$/, '')
}

/** A positive quantity with at most `decimals` decimals (no sign, no exponent). */
export function isPositiveAmount(text: string, decimals: number): boolean {
  const t = text.trim()
  if (!new RegExp(`^\\d+(\\.\\d{1,${decimals}})?$`).test(t)) return false
  return (parseScaled(t, decimals) ?? 0n) > 0n
}

/** SVG polyline points for prices (decimal strings) in a width × height box. */
export function sparkline(prices: string[], width: number, height: number): string {
  const v = prices.map((p) => parseScaled(p, 8)).filter((x): x is bigint => x !== null)
  if (v.length === 0) return ''
  const min = v.reduce((a, b) => (b < a ? b : a))
  const max = v.reduce((a, b) => (b > a ? b : a))
  const span = max - min
  const h = BigInt(height)
  return v
    .map((x, i) => {
      const px = v.length === 1 ? width : Math.round((i * width) / (v.length - 1))
      // Pixels only: the scaled integer difference, then a small integer.
      const py = span === 0n ? height / 2 : height - Number(((x - min) * h) / span)
      return `${px},${py}`
    })
    .join(' ')
}

/** Every reward kind of the API, in its order (each is worded as `m.history.reason.reward_<kind>`). */
export const REWARD_KINDS = [
  'direct',
  'indirect',
  'recruiter',
  'district',
  'city',
  'province',
  'peer',
] as const satisfies readonly components['schemas']['RewardKindName'][]

/** The kinds every member can earn (they refer friends); the others need a store or an agency. */
const ALWAYS_SHOWN: readonly string[] = ['direct', 'indirect']

/**
 * The rewards by kind the invite page lists, in the API's order: direct and indirect always, the
 * other kinds (recruiter, agents, peer) only when not zero; none at all while every kind is zero
 * (the page says there are no rewards yet).
 */
export function rewardsShown<T extends { kind: string; amount: string }>(byKind: T[]): T[] {
  const nonZero = (r: T) => (parseScaled(r.amount, 2) ?? 0n) !== 0n
  if (!byKind.some(nonZero)) return []
  return byKind.filter((r) => ALWAYS_SHOWN.includes(r.kind) || nonZero(r))
}
