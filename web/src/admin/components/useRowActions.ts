import { reactive } from 'vue'
import { errorText } from './useAsync'

/** What happened to a row acted on in this view. */
export interface RowResult {
  ok: boolean
  text: string
}

/**
 * Steps taken on a table's rows (refund, pay, revoke, disable …): each sent once at a time per row
 * (asked for first with `confirmed` where it cannot be taken back), its outcome kept by the row.
 */
export function useRowActions() {
  /** Rows with a request in flight: never sent twice. */
  const busy = reactive(new Set<string>())
  /** What happened to each row acted on: id → ok / message. */
  const results = reactive(new Map<string, RowResult>())

  /**
   * Sends a row's request unless one is in flight; `request` answers the text to show on success.
   * The outcome is kept by the row and, unless quiet, said in a message too.
   */
  async function run(id: string, request: () => Promise<string>, quiet = false): Promise<boolean> {
    if (busy.has(id)) return false
    busy.add(id)
    try {
      const text = await request()
      results.set(id, { ok: true, text })
      if (!quiet) ElMessage.success(text)
      return true
    } catch (e) {
      results.set(id, { ok: false, text: errorText(e) })
      if (!quiet) ElMessage.error(errorText(e))
      return false
    } finally {
      busy.delete(id)
    }
  }

  return { busy, results, run }
}
