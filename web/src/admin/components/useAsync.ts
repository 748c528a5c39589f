import { ref, shallowRef, type Ref } from 'vue'
import { ApiError } from '@shared/api'

/** A load with its loading and error state; `run` again to retry. Older answers are dropped. */
export function useAsync<T>(load: () => Promise<T>, immediate = true) {
  const data = shallowRef<T | null>(null) as Ref<T | null>
  const loading = ref(false)
  const error = shallowRef<ApiError | Error | null>(null)
  let generation = 0
  async function run() {
    const mine = ++generation
    loading.value = true
    error.value = null
    try {
      const v = await load()
      if (mine === generation) data.value = v
    } catch (e) {
      if (mine === generation) error.value = e instanceof Error ? e : new Error(String(e))
    } finally {
      if (mine === generation) loading.value = false
    }
  }
  if (immediate) void run()
  return { data, loading, error, run }
}

export { errorText } from '@shared/api'

export function errorCode(e: unknown): string | undefined {
  return e instanceof ApiError ? e.code : undefined
}

/** Whether the server refused the request to this role (403): a notice, not an error to retry. */
export function isRefusal(e: unknown): e is ApiError {
  return e instanceof ApiError && e.status === 403
}
