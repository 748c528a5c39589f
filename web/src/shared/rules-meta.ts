// Every rules key of the rulebook (SPEC §4) with its kind; labels and help are in the i18n
// catalogue under rules.keys.<section>.<key>.
export type RuleKind = 'rate' | 'multiple' | 'money' | 'choice'

export interface RuleField {
  section: string
  key: string
  kind: RuleKind
}

export const RULE_SECTIONS: { section: string; keys: [string, RuleKind][] }[] = [
  { section: 'points', keys: [['initial_price', 'money'], ['mint_ratio', 'rate']] },
  { section: 'commission', keys: [['default_rate', 'rate'], ['pool_share', 'rate'], ['distribution_share', 'rate']] },
  { section: 'sell', keys: [['retention', 'rate'], ['min_lifetime_consumption', 'money']] },
  { section: 'exit', keys: [['multiple', 'multiple']] },
  { section: 'referral', keys: [['direct', 'rate'], ['indirect', 'rate'], ['merchant_recruiter', 'rate']] },
  { section: 'agents', keys: [['district', 'rate'], ['city', 'rate'], ['province', 'rate'], ['peer', 'rate']] },
  { section: 'dividends', keys: [['share_of_platform', 'rate']] },
  { section: 'vesting', keys: [['release', 'rate']] },
  { section: 'withdraw', keys: [['min', 'money'], ['fee', 'rate']] },
  {
    section: 'limits',
    keys: [['max_mint_value_per_order', 'money'], ['self_dealing', 'choice'], ['max_mint_value_per_member_day', 'money']],
  },
]

/** The words a `choice` key takes (labels under rules.choices.<section>.<key>.<word>). */
export const RULE_CHOICES: Record<string, string[]> = {
  'limits.self_dealing': ['allow', 'no_mint', 'reject'],
}

export const RULE_FIELDS: RuleField[] = RULE_SECTIONS.flatMap(({ section, keys }) =>
  keys.map(([key, kind]) => ({ section, key, kind })),
)

const PATTERNS: Record<RuleKind, RegExp> = {
  rate: /^\d+(\.\d{1,6})?$/,
  multiple: /^\d+(\.\d{1,6})?$/,
  money: /^\d+(\.\d{1,2})?$/,
  choice: /^[a-z_]+$/,
}

/** The client-side check of one value's form (the server checks ranges and the whole). */
export function validRuleValue(kind: RuleKind, value: string): boolean {
  return PATTERNS[kind].test(value.trim())
}

/** Two decimal strings that mean the same number ("0.20" and "0.2"). */
export function sameDecimal(a: string, b: string): boolean {
  const norm = (s: string) => {
    const [i = '', f = ''] = s.trim().split('.')
    return `${i.replace(/^0+(?=\d)/, '')}.${f.replace(/0+$/, '')}`
  }
  return norm(a) === norm(b)
}

export interface RuleChange {
  section: string
  key: string
  kind: RuleKind
  from: string | undefined
  to: string
}

/** The edited values that differ from the current rules, in the rulebook's order. */
export function diffRules(current: Record<string, Record<string, string>>, edited: Record<string, Record<string, string>>): RuleChange[] {
  const out: RuleChange[] = []
  for (const f of RULE_FIELDS) {
    const to = edited[f.section]?.[f.key]
    if (to === undefined) continue
    const from = current[f.section]?.[f.key]
    if (from === undefined || !sameDecimal(from, to)) out.push({ ...f, from, to: to.trim() })
  }
  return out
}

/** The partial rules object for PUT /v1/admin/rules. */
export function changesToPatch(changes: RuleChange[]): Record<string, Record<string, string>> {
  const patch: Record<string, Record<string, string>> = {}
  for (const c of changes) (patch[c.section] ??= {})[c.key] = c.to
  return patch
}
