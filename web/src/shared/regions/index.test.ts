import { describe, expect, it } from 'vitest'
import raw from './gbt2260.json'
import { cascaderOptions, type CascaderOption, indexRegions, isStoreRegion, regionLabel, regionNames, regionTree, type RegionTable } from './index'

const table = raw as unknown as RegionTable
const index = indexRegions(table)

describe('the region table', () => {
  it('names a code from the province down', () => {
    expect(regionNames(index, '440305')).toEqual(['广东省', '深圳市', '南山区'])
    expect(regionNames(index, '441900')).toEqual(['广东省', '东莞市'])
    expect(regionNames(index, '440000')).toEqual(['广东省'])
    expect(regionNames(index, '999999')).toEqual([])
    expect(regionLabel(['广东省', '深圳市', '南山区'])).toBe('广东省 / 深圳市 / 南山区')
    expect(regionLabel([], '999999')).toBe('999999')
  })
  it('knows where a store can be: a district, or a city without districts', () => {
    expect(isStoreRegion(index, table, '440305')).toBe(true)
    expect(isStoreRegion(index, table, '441900')).toBe(true)
    expect(isStoreRegion(index, table, '440300')).toBe(false)
    expect(isStoreRegion(index, table, '440000')).toBe(false)
    expect(isStoreRegion(index, table, '999999')).toBe(false)
  })
})

describe('cascaderOptions', () => {
  const find = (opts: CascaderOption[], v: string) => opts.find((o) => o.value === v)
  it('goes down to districts for stores, with cities without districts as leaves', () => {
    const opts = cascaderOptions(table, 'district')
    expect(opts.length).toBe(table.length)
    const gd = find(opts, '440000')!
    const sz = gd.children!.find((c) => c.value === '440300')!
    expect(sz.children!.find((d) => d.value === '440305')).toEqual({ value: '440305', label: '南山区', leaf: true })
    expect(gd.children!.find((c) => c.value === '441900')).toEqual({ value: '441900', label: '东莞市', leaf: true })
  })
  it('stops at the level of an agent', () => {
    const cities = cascaderOptions(table, 'city')
    const gd = find(cities, '440000')!
    expect(gd.children!.every((c) => c.leaf && !c.children)).toBe(true)
    expect(cascaderOptions(table, 'province').every((p) => p.leaf && !p.children)).toBe(true)
  })
})

describe('regionTree', () => {
  it('nests the agents’ rows under their parents, a district-level city under its city row', () => {
    const rows = [
      { code: '440000', parent: null, level: 'province' },
      { code: '440300', parent: '440000', level: 'city' },
      { code: '440305', parent: '440300', level: 'district' },
      { code: '441900', parent: '440000', level: 'city' },
      { code: '441900', parent: '441900', level: 'district' },
      { code: '110000', parent: null, level: 'province' },
    ]
    const tree = regionTree(rows)
    expect(tree.map((n) => n.key)).toEqual(['province:440000', 'province:110000'])
    const gd = tree[0]!
    expect(gd.children!.map((n) => n.key)).toEqual(['city:440300', 'city:441900'])
    expect(gd.children![0]!.children!.map((n) => n.key)).toEqual(['district:440305'])
    expect(gd.children![1]!.children!.map((n) => n.key)).toEqual(['district:441900'])
    expect(tree[1]!.children).toBeUndefined()
  })
  it('keeps a row whose parent is missing at the top', () => {
    expect(regionTree([{ code: '440305', parent: '440300', level: 'district' }]).map((n) => n.key)).toEqual(['district:440305'])
  })
})
