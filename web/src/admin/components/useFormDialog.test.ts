import { describe, expect, it } from 'vitest'
import { useFormDialog } from './useFormDialog'

describe('useFormDialog', () => {
  it('show resets the form, forgets the last refusal and opens', () => {
    let resets = 0
    const d = useFormDialog(() => resets++)
    d.error = new Error('old')
    d.touched = true
    d.show()
    expect(resets).toBe(1)
    expect(d.open).toBe(true)
    expect(d.touched).toBe(false)
    expect(d.error).toBeNull()
  })
  it('a form with problems is not sent, but its problems show from then on', async () => {
    const d = useFormDialog()
    d.show()
    let sent = false
    expect(await d.send(async () => void (sent = true), () => false)).toBe(false)
    expect(sent).toBe(false)
    expect(d.touched).toBe(true)
    expect(d.open).toBe(true)
  })
  it('closes once sent; keeps the refusal and stays open otherwise', async () => {
    const d = useFormDialog()
    d.show()
    const refusal = new Error('taken')
    const failing = d.send(async () => {
      throw refusal
    })
    expect(d.saving).toBe(true)
    expect(await failing).toBe(false)
    expect(d.saving).toBe(false)
    expect(d.open).toBe(true)
    expect(d.error).toBe(refusal)
    expect(await d.send(async () => {})).toBe(true)
    expect(d.open).toBe(false)
    expect(d.error).toBeNull()
  })
})
