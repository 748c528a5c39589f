// How money, points, prices and times are shown, the same in every app.
// Inputs are the API's decimal strings; all arithmetic is on BigInt.
import { groupThousands, parseScaled, scaledToString } from './decimal'

export * from './decimal'

export const PLACEHOLDER = '—'

/** "1234.5" → "¥1,234.50"; "-3" → "-¥3.00". More than 2 decimals are truncated toward zero. */
export function formatMoney(text: string | null | undefined): string {
  const fen = parseScaled(text, 2)
  if (fen === null) return PLACEHOLDER
  return formatFen(fen)
}

/** An integer number of fen as "¥1,234.50". */
export function formatFen(fen: bigint): string {
  const neg = fen < 0n
  const s = groupThousands(scaledToString(neg ? -fen : fen, 2))
  return (neg ? '-¥' : '¥') + s
}

/** Points as "1,234.5678" (at least `min`, at most `max` decimals, truncated). */
export function formatPoints(text: string | null | undefined, min = 2, max = 4): string {
  const units = parseScaled(text, 8)
  if (units === null) return PLACEHOLDER
  const neg = units < 0n
  const full = scaledToString(neg ? -units : units, 8)
  const [int = '0', frac = ''] = full.split('.')
  let shown = frac.slice(0, max)
  while (shown.length > min && shown.endsWith('0')) shown = shown.slice(0, -1)
  const out = groupThousands(int) + (shown ? '.' + shown : '')
  return (neg && /[1-9]/.test(out) ? '-' : '') + out
}

/** The exact points, all 8 decimals, for a hover title. */
export function exactPoints(text: string | null | undefined): string {
  const units = parseScaled(text, 8)
  if (units === null) return PLACEHOLDER
  return groupThousands(scaledToString(units, 8))
}

/** Yuan per point, "¥37.30409872" (8 decimals, the API's) or truncated to fewer. */
export function formatPrice(text: string | null | undefined, decimals = 8): string {
  const units = parseScaled(text, decimals)
  if (units === null) return PLACEHOLDER
  return (units < 0n ? '-¥' : '¥') + groupThousands(scaledToString(units < 0n ? -units : units, decimals))
}

/** A rate such as "0.003" as a percentage "0.3%", by moving the decimal point (no floats). */
export function formatRate(text: string | null | undefined): string {
  const ppm = parseScaled(text, 6)
  if (ppm === null) return PLACEHOLDER
  // percent with 4 decimals = ppm / 100
  let s = scaledToString(ppm, 4)
  s = s.replace(/\.?0+$/, '')
  return s + '%'
}

/** An integer count with separators. */
export function formatCount(n: number | bigint | null | undefined): string {
  if (n === null || n === undefined) return PLACEHOLDER
  return groupThousands(String(n))
}

const BEIJING = new Intl.DateTimeFormat('en-CA', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
})

/** An RFC 3339 time as Beijing time, "2026-12-02 23:00:55" (or the date / minute only). */
export function formatTime(text: string | null | undefined, precision: 'second' | 'minute' | 'day' = 'second'): string {
  if (!text) return PLACEHOLDER
  const ms = Date.parse(text)
  if (Number.isNaN(ms)) return PLACEHOLDER
  const p: Record<string, string> = {}
  for (const part of BEIJING.formatToParts(new Date(ms))) p[part.type] = part.value
  const day = `${p.year}-${p.month}-${p.day}`
  if (precision === 'day') return day
  const minute = `${day} ${p.hour}:${p.minute}`
  return precision === 'minute' ? minute : `${minute}:${p.second}`
}
