// The report's data as the server sends it (zengzhi-report's ReportData): statistics over the
// Monte-Carlo runs, floats (never balances). Money in it is yuan as a float, shown rounded.

export interface Band {
  p5: number
  p50: number
  p95: number
}

export interface DayBand {
  day: number
  orders: Band
  gmv: Band
  pool: Band
  supply: Band
  price: Band
  exits: Band
  payouts: Band
  holding: Band
  waiting: Band
  exited: Band
}

export interface Honest {
  cap_reached_share: Band
  avg_net_rebate_share: Band
  net_rebate_bound: number
  late_vs_early_wait_ratio: Band | null
  still_waiting_share: Band
  sell_value_per_point_at_end: Band
  retention: number
  price_growth_last_30_days: Band
  // The economy's own attacks (absent in reports written before them).
  rewards_to_non_buyers_share?: Band
  honest_cap_reached_share?: Band
  honest_net_rebate_share?: Band
  honest_value_share?: Band
  honest_median_days_to_exit?: Band | null
  wash_return_on_commission?: Band | null
  statements: { zh: string; en: string }[]
}

export interface SweepRow {
  value: string
  final_price: Band
  cap_reached_share: Band
  avg_net_rebate_share: Band
  median_days_to_exit: Band | null
}

export interface ReportData {
  name: string
  description: string
  horizon_days: number
  runs: number
  seed: number
  scenario_toml: string
  rules_toml: string
  days: DayBand[]
  honest: Honest
  sweep: { parameter: string; rows: SweepRow[] } | null
  totals: [string, string][]
}

export type HonestKey =
  | 'cap_reached_share'
  | 'avg_net_rebate_share'
  | 'net_rebate_bound'
  | 'late_vs_early_wait_ratio'
  | 'still_waiting_share'
  | 'sell_value_per_point_at_end'
  | 'price_growth_last_30_days'
  | 'retention'
  | 'rewards_to_non_buyers_share'
  | 'honest_value_share'
  | 'wash_return_on_commission'

export type Shown = 'pct' | 'yuan' | 'ratio'

/** The honest metrics in the order the report shows them, with how each is written. */
export const HONEST: { key: HonestKey; shown: Shown }[] = [
  { key: 'cap_reached_share', shown: 'pct' },
  { key: 'avg_net_rebate_share', shown: 'pct' },
  { key: 'net_rebate_bound', shown: 'pct' },
  { key: 'late_vs_early_wait_ratio', shown: 'ratio' },
  { key: 'still_waiting_share', shown: 'pct' },
  { key: 'sell_value_per_point_at_end', shown: 'yuan' },
  { key: 'price_growth_last_30_days', shown: 'pct' },
  { key: 'retention', shown: 'pct' },
  { key: 'rewards_to_non_buyers_share', shown: 'pct' },
  { key: 'honest_value_share', shown: 'pct' },
  { key: 'wash_return_on_commission', shown: 'ratio' },
]

/** A statistic as text: a share as "12.3%", yuan as "¥1.23", a ratio as "1.50×". */
export function stat(v: number, shown: Shown): string {
  if (!Number.isFinite(v)) return '—'
  if (shown === 'pct') return `${(v * 100).toFixed(1)}%`
  if (shown === 'yuan') return `¥${v.toFixed(v < 10 ? 4 : 2)}`
  return `${v.toFixed(2)}×`
}

/** An honest metric's band (a single figure is a band of one value; null when not measurable). */
export function honestBand(h: Honest, key: HonestKey): Band | null {
  const v = h[key]
  if (v === null || v === undefined) return null
  if (typeof v === 'number') return { p5: v, p50: v, p95: v }
  return v as Band
}
