// A page's data: loading, the answer, or the error in words.
import { ref, type Ref } from 'vue'
import { errorText } from './api'

export function useLoad<T>(fetcher: () => Promise<T>) {
  const data = ref<T | null>(null) as Ref<T | null>
  const loading = ref(true)
  const error = ref<string | null>(null)
  async function reload() {
    loading.value = true
    error.value = null
    try {
      data.value = await fetcher()
    } catch (e) {
      error.value = errorText(e)
    } finally {
      loading.value = false
    }
  }
  void reload()
  return { data, loading, error, reload }
}
