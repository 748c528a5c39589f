import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { effectScope } from 'vue'
import { useLiveCheck } from './useLiveCheck'

describe('useLiveCheck', () => {
  beforeEach(() => void vi.useFakeTimers())
  afterEach(() => void vi.useRealTimers())

  it('sends only the last change, after the delay, and keeps its answer', async () => {
    const sent: string[] = []
    let text = 'a'
    const scope = effectScope()
    const c = scope.run(() => useLiveCheck(() => (text ? () => (sent.push(text), Promise.resolve(`ok ${text}`)) : null)))!
    c.schedule()
    text = 'ab'
    c.schedule()
    expect(c.busy.value).toBe(true)
    await vi.advanceTimersByTimeAsync(300)
    expect(sent).toEqual(['ab'])
    expect(c.result.value).toBe('ok ab')
    expect(c.busy.value).toBe(false)
    scope.stop()
  })

  it('clears everything when there is nothing to check, and drops the answer on a failure', async () => {
    let fail = false
    let empty = false
    const scope = effectScope()
    const c = scope.run(() => useLiveCheck(() => (empty ? null : () => (fail ? Promise.reject(new Error('down')) : Promise.resolve(1)))))!
    c.schedule()
    await vi.advanceTimersByTimeAsync(300)
    expect(c.result.value).toBe(1)
    fail = true
    c.schedule()
    await vi.advanceTimersByTimeAsync(300)
    expect(c.result.value).toBeNull()
    expect((c.error.value as Error).message).toBe('down')
    empty = true
    c.schedule()
    expect([c.result.value, c.error.value, c.busy.value]).toEqual([null, null, false])
    scope.stop()
  })
})
