// Small pure helpers of the stores / agents / shareholders pages.
import { parseScaled, scaledToString } from '@shared/format'

/** An id as the engine takes it: 1 to 64 of [A-Za-z0-9_.:-]. */
export const ID_RE = /^[A-Za-z0-9_.:-]{1,64}$/

/**
 * A percentage typed by an operator ("20", "0.35") as the API's rate (a decimal fraction with at
 * most 6 decimals: "0.2", "0.0035"); null when it is not a percentage from 0 to 100 with at most
 * 4 decimals. No floats: the decimal point moves two places.
 */
export function percentToRate(text: string): string | null {
  const s = text.trim()
  if (!/^\d{1,3}(\.\d{1,4})?$/.test(s)) return null
  const ppm = parseScaled(s, 4)
  if (ppm === null || ppm > 1_000_000n) return null
  let out = scaledToString(ppm, 6)
  out = out.replace(/0+$/, '').replace(/\.$/, '')
  return out
}

/** A weight of a shareholder: an integer 0 … 4294967295 (0 removes). */
export function parseWeight(text: string): number | null {
  const s = text.trim()
  if (!/^\d{1,10}$/.test(s)) return null
  const n = Number(s)
  return n <= 4_294_967_295 ? n : null
}

/** Σ of money strings, exactly, as fen. */
export function sumFen(values: readonly (string | null | undefined)[]): bigint {
  return values.reduce<bigint>((a, v) => a + (parseScaled(v, 2) ?? 0n), 0n)
}
