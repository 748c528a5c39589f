// The GB/T 2260 region table (省 → 市 → 区县) as shipped in gbt2260.json, the same file the
// server validates codes against. The table is ~80 KB: load it with `loadRegions()` (a dynamic
// import, its own chunk) only where a region is chosen; the helpers below are pure.

/** [code, name] of a district. */
export type RawDistrict = [string, string]
/** [code, name, districts] of a city (no districts: the city itself holds stores, e.g. 东莞市). */
export type RawCity = [string, string, RawDistrict[]]
/** [code, name, cities] of a province. */
export type RawProvince = [string, string, RawCity[]]
export type RegionTable = RawProvince[]

export type RegionLevel = 'province' | 'city' | 'district'

/** One option of an el-cascader. */
export type CascaderOption = {
  value: string
  label: string
  children?: CascaderOption[]
  leaf?: boolean
}

let loading: Promise<RegionTable> | null = null

/** The table, fetched once on first use. */
export function loadRegions(): Promise<RegionTable> {
  loading ??= import('./gbt2260.json').then((m) => m.default as unknown as RegionTable)
  // a failed load can be retried
  loading.catch(() => (loading = null))
  return loading
}

/** code → names from the province down. */
export function indexRegions(table: RegionTable): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const [pc, pn, cities] of table) {
    out.set(pc, [pn])
    for (const [cc, cn, districts] of cities) {
      out.set(cc, [pn, cn])
      for (const [dc, dn] of districts) out.set(dc, [pn, cn, dn])
    }
  }
  return out
}

/** "广东省 / 深圳市 / 南山区"; the code itself when the names are unknown. */
export function regionLabel(names: readonly string[] | null | undefined, code?: string | null, sep = ' / '): string {
  if (names && names.length) return names.join(sep)
  return code ?? '—'
}

/** The names of a code (empty when it is not in the table). */
export function regionNames(index: Map<string, string[]>, code: string | null | undefined): string[] {
  return (code && index.get(code)) || []
}

/**
 * Cascader options down to the regions an agent of `level` (or a store: 'district') can hold:
 * provinces only; provinces → cities; or provinces → cities → districts, where a city without
 * districts is itself a leaf.
 */
export function cascaderOptions(table: RegionTable, level: RegionLevel = 'district'): CascaderOption[] {
  return table.map(([pc, pn, cities]) => {
    if (level === 'province' || cities.length === 0) return { value: pc, label: pn, leaf: true }
    return {
      value: pc,
      label: pn,
      children: cities.map(([cc, cn, districts]) =>
        level === 'city' || districts.length === 0
          ? { value: cc, label: cn, leaf: true }
          : { value: cc, label: cn, children: districts.map(([dc, dn]) => ({ value: dc, label: dn, leaf: true })) },
      ),
    }
  })
}

/** Can a store be in this region (a district, or a city without districts)? */
export function isStoreRegion(index: Map<string, string[]>, table: RegionTable, code: string): boolean {
  const names = index.get(code)
  if (!names) return false
  if (names.length === 3) return true
  if (names.length !== 2) return false
  for (const [, , cities] of table) for (const [cc, , ds] of cities) if (cc === code) return ds.length === 0
  return false
}

/** One node of a tree built from a flat list whose rows name their parent. */
export type TreeNode<T> = T & { key: string; children?: TreeNode<T>[] }

/**
 * The agents' region list (parents first, each with its `parent` code and `level`) as a tree.
 * A district's parent is the city-level row of its parent code and a city's the province's:
 * a city without districts can be both a city row and a district row under it (same code).
 */
export function regionTree<T extends { code: string; parent?: string | null; level: string }>(rows: readonly T[]): TreeNode<T>[] {
  const byKey = new Map<string, TreeNode<T>>()
  const roots: TreeNode<T>[] = []
  const up: Record<string, string> = { district: 'city', city: 'province' }
  for (const r of rows) {
    const node = { ...r, key: `${r.level}:${r.code}` } as TreeNode<T>
    byKey.set(node.key, node)
    const parentLevel = up[r.level]
    const parent = r.parent && parentLevel ? byKey.get(`${parentLevel}:${r.parent}`) : undefined
    if (parent) (parent.children ??= []).push(node)
    else roots.push(node)
  }
  return roots
}
