import { describe, expect, it } from 'vitest'
import { useCursorList } from './useRouteQueryFilters'

/** A fake server: two pages (cursor 2 → the second), each answer released by hand. */
function pagedServer() {
  const calls: { after: number | undefined; release: () => void }[] = []
  const fetch = (after: number | undefined) =>
    new Promise<{ items: string[]; next_after: number | null }>((resolve) => {
      calls.push({ after, release: () => resolve(after === undefined ? { items: ['a', 'b'], next_after: 2 } : { items: ['c'], next_after: null }) })
    })
  return { calls, fetch }
}

describe('useCursorList', () => {
  it('reads the first page, then appends the next from its cursor', async () => {
    const s = pagedServer()
    let fresh = 0
    const list = useCursorList(s.fetch, () => fresh++)
    const first = list.load()
    expect(list.loading.value).toBe(true)
    s.calls[0]!.release()
    await first
    expect(list.rows.value).toEqual(['a', 'b'])
    expect(list.next.value).toBe(2)
    const more = list.load(true)
    expect(s.calls[1]!.after).toBe(2)
    s.calls[1]!.release()
    await more
    expect(list.rows.value).toEqual(['a', 'b', 'c'])
    expect(list.next.value).toBeNull()
    expect(list.loading.value).toBe(false)
    expect(fresh).toBe(1)
  })
  it('drops an answer overtaken by a newer load', async () => {
    const s = pagedServer()
    const list = useCursorList(s.fetch)
    const old = list.load()
    const now = list.load()
    s.calls[1]!.release()
    await now
    list.rows.value = ['kept']
    s.calls[0]!.release()
    await old
    expect(list.rows.value).toEqual(['kept'])
  })
  it('keeps the error of a failed load, and clears it on the next', async () => {
    let fail = true
    const list = useCursorList(async () => {
      if (fail) throw new Error('down')
      return { items: ['x'], next_after: null }
    })
    await list.load()
    expect((list.error.value as Error).message).toBe('down')
    fail = false
    await list.load()
    expect(list.error.value).toBeNull()
    expect(list.rows.value).toEqual(['x'])
  })
})
