// A page's data (loading, the answer, or the error in words) and the member's steps.
import { ref, type Ref } from 'vue'
import { errorText } from '@shared/api'
import { isPositiveAmount } from './lib'

/**
 * Loads at once unless `immediate` is false (then `reload()` starts it; `loading` is true until
 * it ends). `describe` puts a failure in words, or answers null to show none (the store page's
 * refused token, which it shows its own way); by default the error's message.
 */
export function useLoad<T>(fetcher: () => Promise<T>, opts: { immediate?: boolean; describe?: (e: unknown) => string | null } = {}) {
  const data = ref<T | null>(null) as Ref<T | null>
  const loading = ref(true)
  const error = ref<string | null>(null)
  const describe = opts.describe ?? errorText
  async function reload() {
    loading.value = true
    error.value = null
    try {
      data.value = await fetcher()
    } catch (e) {
      error.value = describe(e)
    } finally {
      loading.value = false
    }
  }
  if (opts.immediate !== false) void reload()
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

/** A page of a list read as it scrolls, and whether it was the last. */
export interface ScrollPage<T> {
  items: T[]
  last: boolean
}

/**
 * A list read page by page as it scrolls (the state van-list binds, see ScrollList.vue): `next`
 * reads the page after the `count` items read so far. A failure is put in words by `describe`;
 * when that answers null (a refused token, shown elsewhere) the list shows no error.
 */
export function useScrollList<T>(next: (count: number) => Promise<ScrollPage<T>>, describe: (e: unknown) => string | null = errorText) {
  const items = ref<T[]>([]) as Ref<T[]>
  const loading = ref(false)
  const finished = ref(false)
  const error = ref(false)
  const problem = ref<string | null>(null)
  async function more() {
    loading.value = true
    try {
      const page = await next(items.value.length)
      items.value.push(...page.items)
      finished.value = page.last
      error.value = false
    } catch (e) {
      const text = describe(e)
      if (text !== null) {
        error.value = true
        problem.value = text
      }
    } finally {
      loading.value = false
    }
  }
  /** Forgets what was read: the list reads its first page again as it shows. */
  function reset() {
    items.value = []
    finished.value = false
  }
  return { items, loading, finished, error, problem, more, reset }
}

export type ScrollList<T> = ReturnType<typeof useScrollList<T>>
