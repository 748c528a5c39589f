// Figures derived from the API's numbers, exactly (BigInt on the decimal strings).
import { parseScaled } from './format/decimal'

export interface SellAllRisk {
  /** Fen the holders would be paid if every point were sold now at the shown price. */
  payoutFen: bigint
  /** Fen in the pool now. */
  poolFen: bigint
  /** pool ÷ payout in basis points (10000 = 100%); null when nothing is held. */
  coverageBp: bigint | null
}

/**
 * supply × price × (1 − retention), floored to the fen: what the pool would pay out if every
 * holder sold now at the shown price (SPEC §6 sell: gross floored, kept = ceil(gross × retention)).
 */
export function sellAllRisk(supply: string, price: string, retention: string, pool: string): SellAllRisk | null {
  const units = parseScaled(supply, 8) // points × 10^8
  const priceUnits = parseScaled(price, 8) // yuan × 10^8 per point
  const retentionPpm = parseScaled(retention, 6)
  const poolFen = parseScaled(pool, 2)
  if (units === null || priceUnits === null || retentionPpm === null || poolFen === null) return null
  // units × priceUnits is yuan × 10^16; fen is yuan × 10^2.
  const grossFen = (units * priceUnits) / 10n ** 14n
  // kept = ceil(gross × retention), as the engine rounds in the pool's favour
  const keptFen = (grossFen * retentionPpm + 999_999n) / 1_000_000n
  const payoutFen = grossFen - keptFen
  const coverageBp = payoutFen > 0n ? (poolFen * 10_000n) / payoutFen : null
  return { payoutFen, poolFen, coverageBp }
}

/** Basis points as a percentage with 2 decimals: 12500n → "125.00%". */
export function formatBasisPoints(bp: bigint): string {
  const neg = bp < 0n
  const a = neg ? -bp : bp
  return `${neg ? '-' : ''}${a / 100n}.${(a % 100n).toString().padStart(2, '0')}%`
}
