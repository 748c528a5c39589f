// A page's data (loading, the answer, or the error in words) and the member's steps.
import { ref, type Ref } from 'vue'
import { errorText } from './api'
import { isPositiveAmount } from './lib'

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

/** A step the member takes (send, preview …): busy while it runs, what went wrong in words. */
export function useAction() {
  const busy = ref(false)
  const problem = ref<string | null>(null)
  /** Runs the step; false when it failed (the problem is then set). */
  async function run(step: () => Promise<unknown>): Promise<boolean> {
    busy.value = true
    problem.value = null
    try {
      await step()
      return true
    } catch (e) {
      problem.value = errorText(e)
      return false
    } finally {
      busy.value = false
    }
  }
  return { busy, problem, run }
}

/**
 * An amount of money the member sends (redeem, withdraw): checked first (positive, 2 decimals;
 * `invalid` says what is wrong otherwise), the field cleared once it went through.
 */
export function useAmountAction(invalid: () => string, send: (amount: string) => Promise<unknown>) {
  const amount = ref('')
  const { busy, problem, run } = useAction()
  async function submit() {
    if (!isPositiveAmount(amount.value, 2)) {
      problem.value = invalid()
      return
    }
    const value = amount.value.trim()
    if (await run(() => send(value))) amount.value = ''
  }
  return { amount, busy, problem, submit }
}
