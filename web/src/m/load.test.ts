import { describe, expect, it } from 'vitest'
import { useScrollList } from './load'

describe('useScrollList', () => {
  it('appends page after page, told how many it has, until the last', async () => {
    const asked: number[] = []
    const list = useScrollList<number>(async (count) => {
      asked.push(count)
      return { items: [count + 1, count + 2], last: count >= 2 }
    })
    await list.more()
    await list.more()
    expect(asked).toEqual([0, 2])
    expect(list.items.value).toEqual([1, 2, 3, 4])
    expect(list.finished.value).toBe(true)
    list.reset()
    expect([list.items.value, list.finished.value]).toEqual([[], false])
  })

  it('puts a failure in words, or shows none when describe answers null', async () => {
    const failing = useScrollList<number>(() => Promise.reject(new Error('offline')))
    await failing.more()
    expect([failing.error.value, failing.problem.value, failing.loading.value]).toEqual([true, 'offline', false])
    const refused = useScrollList<number>(() => Promise.reject(new Error('403')), () => null)
    await refused.more()
    expect([refused.error.value, refused.problem.value]).toEqual([false, null])
  })
})
