// The server's messages are bilingual, "中文 / English" (a few read "English / 中文", and the
// rules' errors chain several: "the rules are invalid / 规则无效 — path: 中文 / English").
// Each " / "-separated part is Chinese when it holds a CJK character, English otherwise.

export type Lang = 'zh-CN' | 'en'

const CJK = /[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]/

export function pickMessage(message: string, lang: Lang): string {
  const parts = message.split(' / ').map((p) => p.trim()).filter((p) => p !== '')
  if (parts.length < 2) return message.trim()
  const zh = parts.filter((p) => CJK.test(p))
  const en = parts.filter((p) => !CJK.test(p))
  const chosen = lang === 'zh-CN' ? zh : en
  // One language missing altogether: the whole text is better than nothing.
  if (chosen.length === 0) return message.trim()
  return chosen.join(' — ')
}
