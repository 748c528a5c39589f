// The printable poster as a PNG, drawn on a canvas: a title, the store, the QR code (the SVG
// the server made), what the customer gets, and the join link.

export interface PosterText {
  title: string
  store: string
  lines: string[]
  scan: string
  link: string
}

const W = 1080
const H = 1620

/** Lines of `text` that fit `width` at the context's font (CJK wraps anywhere, Latin at spaces). */
export function wrap(measure: (s: string) => number, text: string, width: number): string[] {
  const out: string[] = []
  let line = ''
  const tokens = text.match(/[\u2e80-\u9fff\uff00-\uffef]|[^\s\u2e80-\u9fff\uff00-\uffef]+|\s+/g) ?? []
  for (const tok of tokens) {
    const next = line + tok
    if (line && measure(next.trimEnd()) > width) {
      out.push(line.trimEnd())
      line = tok.trimStart()
    } else line = next
  }
  if (line.trim()) out.push(line.trimEnd())
  return out
}

/** The poster (PNG) of a QR code image already loaded. */
export async function drawPoster(qr: HTMLImageElement, text: PosterText): Promise<Blob> {
  const canvas = document.createElement('canvas')
  canvas.width = W
  canvas.height = H
  const g = canvas.getContext('2d')
  if (!g) throw new Error('canvas')
  const font = (px: number, weight = 400) =>
    `${weight} ${px}px -apple-system, 'PingFang SC', 'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif`
  // Background and header band.
  g.fillStyle = '#ffffff'
  g.fillRect(0, 0, W, H)
  const band = g.createLinearGradient(0, 0, W, 320)
  band.addColorStop(0, '#e8473b')
  band.addColorStop(1, '#f08a3c')
  g.fillStyle = band
  g.fillRect(0, 0, W, 320)
  g.fillStyle = '#ffffff'
  g.textAlign = 'center'
  g.textBaseline = 'middle'
  g.font = font(64, 700)
  let y = 130
  for (const l of wrap((s) => g.measureText(s).width, text.title, W - 120)) {
    g.fillText(l, W / 2, y)
    y += 80
  }
  g.font = font(38)
  g.fillText(text.store, W / 2, Math.max(y + 10, 250))
  // The QR code, crisp, on white with a quiet zone.
  const size = 640
  const qx = (W - size) / 2
  const qy = 380
  g.imageSmoothingEnabled = false
  g.drawImage(qr, qx, qy, size, size)
  g.fillStyle = '#868e96'
  g.font = font(32)
  g.fillText(text.scan, W / 2, qy + size + 44)
  // What the customer gets.
  g.textAlign = 'left'
  g.fillStyle = '#1f2329'
  g.font = font(38)
  y = qy + size + 130
  for (const item of text.lines) {
    const lines = wrap((s) => g.measureText(s).width, item, W - 200)
    g.fillStyle = '#e8473b'
    g.beginPath()
    g.arc(110, y, 9, 0, Math.PI * 2)
    g.fill()
    g.fillStyle = '#1f2329'
    for (const l of lines) {
      g.fillText(l, 140, y)
      y += 54
    }
    y += 14
  }
  // The link, small, at the foot.
  g.textAlign = 'center'
  g.fillStyle = '#868e96'
  g.font = font(26)
  g.fillText(text.link, W / 2, H - 50)
  const blob = await new Promise<Blob | null>((ok) => canvas.toBlob(ok, 'image/png'))
  if (!blob) throw new Error('PNG')
  return blob
}
