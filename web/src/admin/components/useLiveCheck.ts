import { onScopeDispose, ref, shallowRef, type Ref } from 'vue'

/**
 * A server check of what is being typed, sent `delay` ms after the last change: call `schedule()`
 * on every change. `request` answers the call to send (made when the delay is over), or null when
 * there is nothing to check, which clears the answer, the error and the busy state at once. Only
 * the newest request's answer or error is kept; a failed check clears the previous answer.
 */
export function useLiveCheck<T>(request: () => (() => Promise<T>) | null, delay = 300) {
  const result = shallowRef<T | null>(null) as Ref<T | null>
  const error = shallowRef<unknown>(null)
  const busy = ref(false)
  let timer: ReturnType<typeof setTimeout> | undefined
  let generation = 0
  function schedule() {
    clearTimeout(timer)
    const mine = ++generation
    const send = request()
    if (!send) {
      result.value = null
      error.value = null
      busy.value = false
      return
    }
    busy.value = true
    timer = setTimeout(async () => {
      try {
        const r = await send()
        if (mine !== generation) return
        result.value = r
        error.value = null
      } catch (e) {
        if (mine !== generation) return
        result.value = null
        error.value = e
      } finally {
        if (mine === generation) busy.value = false
      }
    }, delay)
  }
  onScopeDispose(() => clearTimeout(timer))
  return { result, error, busy, schedule }
}
