// The workbench's form edits the scenario's TOML text in place: a key is found under its table
// header ([arrivals], [rules.exit]) or above the first header (top-level keys), and its value
// replaced, or the key (and the table) added. Only the simple forms the form writes are read:
// `key = value` lines under `[table]` headers; anything else stays as written.

export interface KeyPath {
  table: string
  key: string
}

export function splitPath(path: string): KeyPath {
  const i = path.lastIndexOf('.')
  return i < 0 ? { table: '', key: path } : { table: path.slice(0, i), key: path.slice(i + 1) }
}

const HEADER = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/
const keyLine = (key: string) => new RegExp(`^(\\s*"?${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"?\\s*=\\s*)(.*)$`)

/** The lines of `table` (start index inclusive, end exclusive) and its header line (−1 for top level). */
function region(lines: string[], table: string): { header: number; start: number; end: number } | null {
  let header = -1
  if (table !== '') {
    header = lines.findIndex((l) => HEADER.exec(l)?.[1] === table && !l.trim().startsWith('[['))
    if (header < 0) return null
  }
  let end = lines.length
  for (let i = header + 1; i < lines.length; i++) {
    if (HEADER.test(lines[i]!)) {
      end = i
      break
    }
  }
  return { header, start: header + 1, end }
}

/** Strips a trailing comment from a simple value (not inside quotes). */
function valueOf(raw: string): string {
  let inQuote = false
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]
    if (c === '"') inQuote = !inQuote
    if (c === '#' && !inQuote) return raw.slice(0, i).trim()
  }
  return raw.trim()
}

/** The value of `path` as written (a string's quotes removed), or undefined. */
export function getKey(text: string, path: string): string | undefined {
  const { table, key } = splitPath(path)
  const lines = text.split('\n')
  const r = region(lines, table)
  if (!r) return undefined
  const re = keyLine(key)
  for (let i = r.start; i < r.end; i++) {
    const m = re.exec(lines[i]!)
    if (m) {
      const v = valueOf(m[2]!)
      return v.startsWith('"') && v.endsWith('"') && v.length >= 2 ? v.slice(1, -1) : v
    }
  }
  return undefined
}

/** A TOML literal: numbers as written, strings quoted. */
export function literal(value: string, kind: 'number' | 'string'): string {
  return kind === 'number' ? value.trim() : JSON.stringify(value)
}

/** `text` with `path` set to the TOML literal `lit` (added when missing; removed when lit is null). */
export function setKey(text: string, path: string, lit: string | null): string {
  const { table, key } = splitPath(path)
  const lines = text.split('\n')
  const r = region(lines, table)
  const re = keyLine(key)
  if (r) {
    for (let i = r.start; i < r.end; i++) {
      const m = re.exec(lines[i]!)
      if (m) {
        if (lit === null) lines.splice(i, 1)
        else {
          const comment = m[2]!.slice(valueOf(m[2]!).length)
          lines[i] = `${m[1]}${lit}${comment}`
        }
        return lines.join('\n')
      }
    }
    if (lit === null) return text
    // after the table's last key line (before blank lines that separate it from the next table)
    let at = r.end
    while (at > r.start && lines[at - 1]!.trim() === '') at--
    lines.splice(at, 0, `${key} = ${lit}`)
    return lines.join('\n')
  }
  if (lit === null) return text
  const tail = text.endsWith('\n') || text === '' ? '' : '\n'
  return `${text}${tail}\n[${table}]\n${key} = ${lit}\n`
}

/** The form's keys: the path, how the value is written, and whether it is an integer. */
export const FORM_KEYS = [
  { path: 'horizon_days', kind: 'number', int: true },
  { path: 'runs', kind: 'number', int: true },
  { path: 'seed', kind: 'number', int: true },
  { path: 'arrivals.initial_members', kind: 'number', int: true },
  { path: 'arrivals.rate', kind: 'number', int: false },
  { path: 'buying.orders_per_day', kind: 'number', int: false },
  { path: 'reentry.probability', kind: 'number', int: false },
  { path: 'rules.exit.multiple', kind: 'string', int: false },
  { path: 'rules.sell.retention', kind: 'string', int: false },
] as const

export type FormPath = (typeof FORM_KEYS)[number]['path']

/** A number the form may write: digits with an optional fraction (integers for `int`). */
export function validFormValue(value: string, int: boolean): boolean {
  return int ? /^\d+$/.test(value.trim()) : /^\d+(\.\d+)?$/.test(value.trim())
}
