// End-to-end: the store owner's page (/store/) on a 375 × 812 phone, against the real
// `zengzhi serve --demo` (started by harness.mjs): a store token from the API, the figures as
// the API has them, the QR code decoding to the store's join link, the poster PNG, the print
// layout (a PDF), refused tokens in words, and the console's "store page" button.
//
//   npm run build && node --test e2e/store.test.mjs
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { ARTIFACTS, demo } from './harness.mjs'
import { decodeQr, shownCount, shownMoney } from './readings.mjs'

const ctx = demo()
const { api, shot } = ctx

let store // a row of /v1/admin/stores
let token

async function open(t) {
  const page = ctx.page
  await page.goto('about:blank')
  await page.goto(`${ctx.consoleBase}/store/#token=${encodeURIComponent(t)}`)
}
const text = async (sel) => (await ctx.page.textContent(sel)).trim()

/** The stores once the demo's orders are all in the query tables (two answers 1.5 s apart agree). */
async function settledStores() {
  let last = JSON.stringify(await api('/v1/admin/stores?page_size=100'))
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 1500))
    const now = JSON.stringify(await api('/v1/admin/stores?page_size=100'))
    if (now === last) return JSON.parse(now)
    last = now
  }
  throw new Error('the demo store figures did not settle')
}

test('the store page shows its figures as the API has them, and its QR code', async () => {
  const page = ctx.page
  const list = await settledStores()
  const busy = list.items.filter((s) => s.owner && s.bound_members > 0 && s.last_30_days.orders > 0)
  assert.ok(busy.length > 0, 'the demo has a store with orders and bound members')
  store = busy.sort((a, b) => b.last_30_days.orders - a.last_30_days.orders)[0]
  const issued = await api(`/v1/merchants/${store.id}/token`, { method: 'POST' })
  token = issued.token
  assert.equal(issued.page_path, `/store/#token=${token}`)
  await page.setViewportSize({ width: 375, height: 812 })
  await open(token)
  await page.waitForSelector('[data-page="store"] [data-test="store-id"]')
  // The token left the address bar and stays for this tab only.
  assert.ok(!page.url().includes('token'), page.url())
  assert.equal(await page.evaluate(() => sessionStorage.getItem('zengzhi.store.token')), token)

  const me = await api('/v1/store/me', { token })
  assert.equal(me.store, store.id)
  assert.equal(await text('[data-test="store-id"]'), store.id)
  assert.equal(await text('[data-test="region"]'), me.region.names.join(' '))
  for (const [key, flow] of [['today', me.today], ['week', me.last_7_days], ['month', me.last_30_days]]) {
    const card = `[data-test="period-${key}"]`
    assert.equal(await text(`${card} [data-test="gmv"]`), shownMoney(flow.gmv), `${key} flow`)
    assert.equal(await text(`${card} [data-test="orders"]`), shownCount(flow.orders), `${key} orders`)
    assert.equal(await text(`${card} [data-test="commission"]`), shownMoney(flow.commission), `${key} commission`)
  }
  // The console's store detail says the same.
  const detail = await api(`/v1/admin/stores/${store.id}`)
  assert.deepEqual([detail.store.today, detail.store.last_7_days, detail.store.last_30_days], [me.today, me.last_7_days, me.last_30_days])
  assert.equal(await text('[data-test="owner-rewards"]'), shownMoney(me.owner_rewards))
  if (me.recruiter) assert.equal(await text('[data-test="recruiter-rewards"]'), shownMoney(me.recruiter_rewards))
  await page.waitForSelector('[data-test="flow-chart"] canvas')

  // The QR code decodes to the store's join link.
  await page.waitForSelector('[data-test="store-qr"]')
  const link = await decodeQr(page, { selector: '[data-test="store-qr"]' })
  assert.equal(link, me.join_link)
  assert.equal(new URL(link).searchParams.get('store'), store.id)
  assert.equal(await text('[data-test="join-link"]'), me.join_link)

  // The bound members, the first page as the API lists them.
  await page.waitForSelector('[data-test="member"]')
  const firstPage = await api('/v1/store/members?page=1&page_size=20', { token })
  const shown = await page.$$eval('[data-test="member"] .member-id', (els) => els.map((e) => e.textContent.trim()))
  assert.deepEqual(shown.slice(0, firstPage.items.length), firstPage.items.map((m) => m.id))
  assert.ok(shown.length <= me.bound_members)

  for (const width of [375, 320]) {
    await shot('store', width)
    // The full page is long (every member); the top and the cards, to look at.
    await page.screenshot({ path: join(ARTIFACTS, `store-top-${width}.png`), clip: { x: 0, y: 0, width, height: 1400 }, fullPage: true })
    await page.locator('[data-test="qr-card"]').screenshot({ path: join(ARTIFACTS, `store-qr-${width}.png`) })
    await page.locator('[data-test="rewards"]').screenshot({ path: join(ARTIFACTS, `store-rewards-${width}.png`) })
    await page.locator('[data-test="explain"]').screenshot({ path: join(ARTIFACTS, `store-explain-${width}.png`) })
  }
  // Tap targets of the page's own controls are at least 44 px high.
  for (const sel of ['[data-test="save-poster"]', '[data-test="print"]', '[data-test="lang"]']) {
    const box = await page.locator(sel).boundingBox()
    assert.ok(box && box.height >= 44, `${sel}: ${box?.height}px`)
  }
})

test('the poster downloads as a PNG, and the print layout makes a PDF of the QR code', async () => {
  const page = ctx.page
  await page.setViewportSize({ width: 375, height: 812 })
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-test="save-poster"]')])
  assert.equal(download.suggestedFilename(), `store-${store.id}-poster.png`)
  const path = join(ARTIFACTS, 'store-poster.png')
  await download.saveAs(path)
  const png = await readFile(path)
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG')
  assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [1080, 1620], 'poster size')

  await page.emulateMedia({ media: 'print' })
  assert.ok(await page.isVisible('[data-test="store-qr"]'), 'the QR code is printed')
  assert.ok(!(await page.isVisible('[data-test="rewards"]')), 'the figures are not printed')
  assert.ok(!(await page.isVisible('[data-test="save-poster"]')), 'the buttons are not printed')
  await page.screenshot({ path: join(ARTIFACTS, 'store-print.png'), fullPage: true })
  await page.emulateMedia({ media: 'screen' })
  const pdf = await page.pdf({ path: join(tmpdir(), `store-${process.pid}.pdf`), format: 'A4' })
  assert.equal(pdf.subarray(0, 5).toString(), '%PDF-')
})

test('English on request', async () => {
  const page = ctx.page
  await page.click('[data-test="lang"]')
  await page.waitForFunction(() => document.querySelector('[data-test="period-today"]')?.textContent?.includes('Today'))
  assert.match(await text('[data-test="explain"]'), /rises only when people buy/)
  await shot('store-en', 375)
  await page.click('[data-test="lang"]')
  await page.waitForFunction(() => document.querySelector('[data-test="period-today"]')?.textContent?.includes('今日'))
})

test('a bad, a member or no token is refused in words', async () => {
  const page = ctx.page
  await open('st.bm90LWEtdG9rZW4.c2ln')
  await page.waitForSelector('[data-page="no-token"]')
  assert.match(await text('[data-page="no-token"]'), /门店令牌无效或已过期/)
  assert.match(await text('[data-test="token-problem"]'), /门店令牌无效/)
  assert.equal(await page.evaluate(() => sessionStorage.getItem('zengzhi.store.token')), null)
  await shot('store-bad-token', 375)

  const [member] = await api('/v1/demo/members', { token: undefined })
  await open(member.token)
  await page.waitForSelector('[data-page="no-token"]')
  assert.match(await text('[data-test="token-problem"]'), /仅限门店令牌/)

  await page.goto('about:blank')
  await page.goto(`${ctx.consoleBase}/store/`)
  await page.waitForSelector('[data-page="no-token"]')
  assert.match(await text('[data-test="token-problem"]'), /门店令牌/)
})

test("the console's store detail gives a working store page link", async () => {
  const page = ctx.page
  await page.setViewportSize({ width: 1280, height: 800 })
  await ctx.signInAsAdmin()
  await ctx.goto(`/stores/${store.id}`)
  await page.waitForSelector('[data-test="store-page"]')
  await page.click('[data-test="store-page"]')
  await page.waitForSelector('[data-test="store-page-link"]')
  const url = await page.inputValue('input[data-test="store-page-url"], [data-test="store-page-url"] input')
  assert.ok(url.startsWith(`${ctx.consoleBase}/store/#token=st.`), url)
  await shot('store-console-link', 1280)
  const log = await api('/v1/admin/audit?action=issue_store_token')
  assert.equal(log.items[0].target, `merchant:${store.id}`)
  assert.ok(!JSON.stringify(log).includes(url.split('#token=')[1]), 'the token is not logged')
  // A read-only role does not get the button.
  const auditor = await ctx.signInAs('auditor')
  await ctx.goto(`/stores/${store.id}`)
  await page.waitForSelector('[data-test="store-title"]')
  assert.equal(await page.locator('[data-test="store-page"]').count(), 0)
  // The link opens the store's page.
  await page.setViewportSize({ width: 375, height: 812 })
  await page.goto('about:blank')
  await page.goto(url)
  await page.waitForSelector('[data-page="store"] [data-test="store-id"]')
  assert.equal(await text('[data-test="store-id"]'), store.id)
})
