import { reactive, ref, shallowRef } from 'vue'

/**
 * A form in a dialog (FormDialog): `show` resets the form and opens it; `send` marks the form
 * touched (its problems show from then on), sends it when `valid`, closes the dialog when that
 * went through and keeps the server's refusal otherwise. Reactive: `dialog.open`, not `.value`.
 */
export function useFormDialog(reset: () => void = () => {}) {
  const open = ref(false)
  const saving = ref(false)
  const error = shallowRef<unknown>(null)
  const touched = ref(false)
  function show() {
    reset()
    touched.value = false
    error.value = null
    open.value = true
  }
  async function send(step: () => Promise<unknown>, valid: () => boolean = () => true): Promise<boolean> {
    touched.value = true
    error.value = null
    if (!valid()) return false
    saving.value = true
    try {
      await step()
      open.value = false
      return true
    } catch (e) {
      error.value = e
      return false
    } finally {
      saving.value = false
    }
  }
  return reactive({ open, saving, error, touched, show, send })
}

export type FormDialogState = ReturnType<typeof useFormDialog>
