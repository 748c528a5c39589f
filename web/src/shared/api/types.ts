// Shapes of the answers, written by hand while the OpenAPI document declares request bodies
// only. Once the document carries response schemas, ResponseOf (client.ts) takes the generated
// type instead and these become unused (delete them then).
// Money: string of yuan with exactly 2 decimals. Points and prices: 8 decimals. Times: RFC 3339.

export type Money = string
export type Points = string
export type Price = string
export type Rate = string

/** Routes announced for the console that the server does not have yet (not in the document). */
export type PendingRoute = 'POST /v1/auth/login' | 'GET /v1/auth/me' | 'POST /v1/auth/logout'

export type Role = 'superadmin' | 'operator' | 'finance' | 'auditor'

export interface User {
  username: string
  role: Role
}

export interface LoginResponse {
  token: string
  user: User
  expires_at: string
}

export interface Totals {
  coins_issued: Money
  commissions: Money
  injected: Money
  redeemed: Money
  subsidies: Money
  withdrawn: Money
}

export interface Stats {
  price: Price
  pool: Money
  supply: Points
  members: number
  members_holding: number
  merchants: number
  orders: number
  exits: number
  platform_revenue: Money
  dividend_pool: Money
  totals: Totals
}

export interface Proof {
  journal_length: number
  head_hash: string
  conservation: {
    money_in: { commissions: Money; injected: Money; subsidies: Money; total: Money }
    money_where: {
      pool: Money
      member_cash: Money
      platform_revenue: Money
      dividend_pool: Money
      withdrawn: Money
      redeemed: Money
      cash_spent: Money
      total: Money
    }
    coins: { issued: Money; spent: Money; held: Money }
    points: { supply: Points; held_by_members: Points }
  }
}

export interface Candle {
  start: string
  open: Price
  high: Price
  low: Price
  close: Price
  pool: Money
  supply: Points
}

export interface PriceHistory {
  candles: Candle[]
}

export type RulesTree = Record<string, Record<string, string>>

export interface RuleNote {
  path: string
  zh: string
  en: string
}

export interface RulesAnswer {
  rules: RulesTree
  warnings: RuleNote[]
}

export interface Applied {
  ok: boolean
  seq: number
  at: string
  exits: number
}

export type WithdrawalStatus = 'pending' | 'paying' | 'paid' | 'rejected'

export interface Withdrawal {
  id: string
  member: string
  amount: Money
  fee: Money | null
  payout: Money | null
  status: WithdrawalStatus
  requested_at: string
  decided_at: string | null
  decided_by: string | null
  reason: string | null
  seq: number | null
}

export interface WithdrawalPage {
  items: Withdrawal[]
  next_after: string | null
}

/** Hand-written request bodies and answers, by "METHOD path". */
export interface Hand {
  'POST /v1/auth/login': { body: { username: string; password: string }; response: LoginResponse }
  'GET /v1/auth/me': { response: User }
  'POST /v1/auth/logout': { response: unknown }
  'GET /v1/stats': { response: Stats }
  'GET /v1/proof': { response: Proof }
  'GET /v1/price/history': { response: PriceHistory }
  'GET /v1/admin/rules': { response: RulesAnswer }
  'PUT /v1/admin/rules': { body: Partial<RulesTree>; response: Applied & RulesAnswer }
  'POST /v1/admin/inject': { response: Applied }
  'POST /v1/admin/campaigns': { response: Applied }
  'POST /v1/admin/campaigns/end': { response: Applied }
  'POST /v1/admin/release-locked': { response: Applied }
  'POST /v1/admin/dividends': { response: Applied }
  'GET /v1/admin/withdrawals': { response: WithdrawalPage }
  'GET /v1/admin/withdrawals/{id}': { response: Withdrawal }
  'POST /v1/admin/withdrawals/{id}/pay': { response: { ok: true; withdrawal: Withdrawal } }
  'POST /v1/admin/withdrawals/{id}/reject': { response: { ok: true; withdrawal: Withdrawal } }
  'GET /v1/admin/export/members.csv': { response: string }
  'GET /v1/admin/export/orders.csv': { response: string }
  'GET /v1/admin/export/holdings.csv': { response: string }
}
