// Saving text (a CSV) as a file in the browser.
import { ref } from 'vue'
import { saveBlob } from '@shared/download'
import { errorText } from './components/useAsync'

export function saveText(name: string, text: string, type = 'text/csv;charset=utf-8') {
  saveBlob(new Blob([text], { type }), name)
}

/**
 * A CSV download button's state: `run` fetches the text and saves it as `name` (a function for a
 * name that depends on the filters); a failure is shown as a message in words.
 */
export function useCsvDownload(name: string | (() => string), fetchText: () => Promise<string>) {
  const busy = ref(false)
  async function run() {
    busy.value = true
    try {
      saveText(typeof name === 'string' ? name : name(), await fetchText())
    } catch (e) {
      ElMessage.error(errorText(e))
    } finally {
      busy.value = false
    }
  }
  return { busy, run }
}
