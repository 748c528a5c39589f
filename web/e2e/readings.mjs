// The tests' own readings of what the pages show: money, points and counts as the front end
// formats the API's strings (written here again on purpose, not imported from src/), the
// Chinese part of a bilingual server message, a chart's inked pixels and a QR code's text.
import assert from 'node:assert/strict'
import jsQR from 'jsqr'

/** Thousands separators: "1234567" → "1,234,567". */
export const group = (s) => s.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
/** A count as the pages show it. */
export const shownCount = (n) => group(String(n))
/** Money: "¥1,234.50", "-¥0.05" (2 decimals, truncated). */
export const shownMoney = (s) => {
  const neg = s.startsWith('-')
  const [i, f = ''] = (neg ? s.slice(1) : s).split('.')
  return (neg ? '-¥' : '¥') + group(i.replace(/^0+(?=\d)/, '')) + '.' + f.padEnd(2, '0').slice(0, 2)
}
/** Points: 2 to 4 decimals, truncated, thousands grouped. */
export const shownPoints = (s) => {
  const [i, f = ''] = s.split('.')
  let d = f.slice(0, 4)
  while (d.length > 2 && d.endsWith('0')) d = d.slice(0, -1)
  return group(i) + '.' + d.padEnd(2, '0')
}
/** The zh-CN part of the server's bilingual message (as the pages pick it), or all of it. */
export const zhPart = (message) =>
  message
    .split(' / ')
    .filter((p) => /[\u4e00-\u9fff]/.test(p))
    .map((p) => p.trim())
    .join(' — ') || message

/** Inked (not blank, not near white) pixels of a canvas: a Playwright locator or element handle. */
export const inked = (canvas) =>
  canvas.evaluate((c) => {
    const g = c.getContext('2d')
    const { data } = g.getImageData(0, 0, c.width, c.height)
    let n = 0
    for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0 && (data[i] < 240 || data[i + 1] < 240 || data[i + 2] < 240)) n++
    return n
  })

/** The text of a QR code: an image element in the page or a data URL, drawn on a canvas there, decoded in Node. */
export async function decodeQr(page, { selector, dataUrl }) {
  const { w, h, data } = await page.evaluate(
    async ({ selector, dataUrl }) => {
      let img
      if (selector) img = document.querySelector(selector)
      else {
        img = new Image()
        img.src = dataUrl
      }
      await img.decode()
      const size = 600
      const c = document.createElement('canvas')
      c.width = size
      c.height = size
      const g = c.getContext('2d')
      g.fillStyle = '#fff'
      g.fillRect(0, 0, size, size)
      // a quiet zone around the code
      g.drawImage(img, 40, 40, size - 80, size - 80)
      return { w: size, h: size, data: Array.from(g.getImageData(0, 0, size, size).data) }
    },
    { selector, dataUrl },
  )
  const code = jsQR(Uint8ClampedArray.from(data), w, h)
  assert.ok(code, 'a QR code could be decoded')
  return code.data
}
