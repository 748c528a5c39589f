// Pure helpers of the insight pages (dashboard, finance, rules, operations): exact decimal
// comparisons on BigInt, never floats, and the coins CSV read the way the server reads it.
import { parseScaled } from '@shared/format'

/** Two money strings compared exactly, in fen: "12.3" = "12.30". null when either is not a decimal. */
export function sameMoney(a: string | null | undefined, b: string | null | undefined): boolean | null {
  const x = parseScaled(a, 2)
  const y = parseScaled(b, 2)
  if (x === null || y === null) return null
  return x === y
}

/** in_total − where_total in fen (0n = balanced), or null when unreadable. */
export function imbalanceFen(inTotal: string, whereTotal: string): bigint | null {
  const x = parseScaled(inTotal, 2)
  const y = parseScaled(whereTotal, 2)
  if (x === null || y === null) return null
  return x - y
}

/** The sign of a decimal string: 1, 0 or -1 (null when not a decimal). */
export function signOf(text: string | null | undefined): 1 | 0 | -1 | null {
  const v = parseScaled(text, 8)
  if (v === null) return null
  return v > 0n ? 1 : v < 0n ? -1 : 0
}

export interface CsvCoinRow {
  /** 1-based line of the file, as the server numbers it. */
  row: number
  member: string
  amount: string
}

export interface CsvCoinRead {
  rows: CsvCoinRow[]
  /** Lines that are not `member,amount`. */
  bad: { row: number; text: string }[]
}

/**
 * The rows of `member,amount` CSV text, as the server's parse_csv reads them: blank lines and
 * `#` comment lines skipped, a first `member,amount` header line skipped, fields trimmed and
 * unquoted. Only for the preview: the server checks again.
 */
export function readCoinCsv(text: string): CsvCoinRead {
  const rows: CsvCoinRow[] = []
  const bad: { row: number; text: string }[] = []
  const lines = text.split(/\r\n|\n|\r/)
  lines.forEach((raw, i) => {
    const line = raw.trim().replace(/^\ufeff+/, '')
    if (line === '' || line.startsWith('#')) return
    const fields = line.split(',').map((f) => f.trim().replace(/^"+|"+$/g, '').trim())
    if (rows.length === 0 && bad.length === 0 && fields.length === 2 && fields[0]!.toLowerCase() === 'member') return
    if (fields.length === 2 && fields[0] !== '') rows.push({ row: i + 1, member: fields[0]!, amount: fields[1]! })
    else bad.push({ row: i + 1, text: raw })
  })
  return { rows, bad }
}

/** Whether an amount is what the server takes for coins: yuan, at most two decimals, above 0. */
export function validCoinAmount(text: string): boolean {
  if (!/^\d+(\.\d{1,2})?$/.test(text.trim())) return false
  return (parseScaled(text.trim(), 2) ?? 0n) > 0n
}
