// Exact decimal strings as scaled BigInts: "1234.56" at scale 2 is 123456n. No floats.

const DECIMAL = /^(-)?(\d+)(?:\.(\d*))?$/

/**
 * The decimal string as an integer of 10^-scale units, truncated toward zero when it has more
 * decimals than `scale`. Null for anything that is not a plain decimal.
 */
export function parseScaled(text: string | null | undefined, scale: number): bigint | null {
  if (typeof text !== 'string') return null
  const m = DECIMAL.exec(text.trim())
  if (!m) return null
  const [, sign, int, frac = ''] = m
  const digits = (int ?? '0') + frac.slice(0, scale).padEnd(scale, '0')
  const v = BigInt(digits)
  return sign && v !== 0n ? -v : v
}

/** An integer of 10^-scale units as a decimal string with exactly `scale` decimals. */
export function scaledToString(v: bigint, scale: number): string {
  const neg = v < 0n
  const abs = (neg ? -v : v).toString().padStart(scale + 1, '0')
  const int = abs.slice(0, abs.length - scale)
  const frac = abs.slice(abs.length - scale)
  return (neg ? '-' : '') + int + (scale > 0 ? '.' + frac : '')
}

/** ⌊a · b / c⌋ for non-negative operands (c > 0). */
export function mulDivFloor(a: bigint, b: bigint, c: bigint): bigint {
  if (c <= 0n) throw new RangeError('division by a non-positive number')
  return (a * b) / c
}

/** Thousands separators in the integer part of a plain decimal string. */
export function groupThousands(text: string): string {
  const neg = text.startsWith('-')
  const body = neg ? text.slice(1) : text
  const [int = '', frac] = body.split('.')
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  return (neg ? '-' : '') + grouped + (frac !== undefined ? '.' + frac : '')
}
