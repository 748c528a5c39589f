import { i18n } from '../i18n'

/**
 * Asks before a step that cannot be taken back (a warning box); true when the user goes on.
 * The title and the button default to "confirm".
 */
export async function confirmed(text: string, title?: string, button?: string): Promise<boolean> {
  const t = i18n.global.t
  try {
    await ElMessageBox.confirm(text, title ?? t('common.confirm'), {
      type: 'warning',
      confirmButtonText: button ?? t('common.confirm'),
      cancelButtonText: t('common.cancel'),
    })
    return true
  } catch {
    return false
  }
}
