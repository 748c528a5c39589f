// End-to-end: the console's stores, agents and shareholders pages against a real
// `zengzhi serve --demo` (see harness.mjs).
//
//   npm run build && node --test e2e/network.test.mjs
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { demo, fen, web } from './harness.mjs'
import { decodeQr, inked, shownMoney, zhPart } from './readings.mjs'

const ctx = demo()
const { api, shot, goto } = ctx

async function rawApi(path, { method = 'GET', body, token = ctx.TOKEN } = {}) {
  const res = await fetch(ctx.apiBase + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
  return { status: res.status, body: await res.json().catch(() => null) }
}

/** The code of a region by its names, from the table the console ships. */
const REGIONS = JSON.parse(await readFile(join(web, 'src/shared/regions/gbt2260.json'), 'utf8'))
function regionCode([p, c, d]) {
  const province = REGIONS.find((x) => x[1] === p)
  const city = province[2].find((x) => x[1] === c)
  return city[2].find((x) => x[1] === d)[0]
}

/** Chooses a path of the open el-cascader by its labels. */
async function chooseRegion(page, scope, labels) {
  await page.waitForSelector(`${scope} [data-test="region-cascader"][data-ready="1"]`)
  await page.locator(`${scope} [data-test="region-cascader"] .el-cascader`).click()
  for (const [i, label] of labels.entries()) {
    const menu = page.locator('.el-cascader-panel .el-cascader-menu').nth(i)
    await menu.locator('.el-cascader-node', { hasText: label }).first().click()
  }
  await page.waitForSelector('.el-cascader__dropdown', { state: 'hidden' })
}

test('stores: the list is the server’s; creating one through the dialog; its detail, QR code and PNG', async () => {
  await ctx.signInAsAdmin()
  const page = ctx.page
  await goto('/stores')
  await page.waitForSelector('[data-test="stores-table"] .el-table__body tr')
  // the first page as the server gives it: ids in order, regions by name, rate and 30 days' flow
  const first = await api('/v1/admin/stores?page=1&page_size=20')
  const ids = await page.locator('[data-test="stores-table"] .el-table__body-wrapper [data-test="store-id"]').allTextContents()
  assert.deepEqual(ids.map((s) => s.trim()), first.items.map((s) => s.id))
  const regions = await page.locator('[data-test="stores-table"] .el-table__body-wrapper [data-test="store-region"]').allTextContents()
  assert.deepEqual(regions.map((s) => s.trim()), first.items.map((s) => s.region.names.join(' / ')))
  const gmv = await page.locator('[data-test="stores-table"] .el-table__body-wrapper [data-test="store-gmv-30"]').allTextContents()
  assert.deepEqual(gmv.map((s) => s.trim()), first.items.map((s) => shownMoney(s.last_30_days.gmv)))
  const today = await page.locator('[data-test="stores-table"] .el-table__body-wrapper [data-test="store-gmv-today"]').allTextContents()
  assert.deepEqual(today.map((s) => s.trim()), first.items.map((s) => shownMoney(s.today.gmv)))
  // the region table is not part of the page until a region is chosen
  assert.ok(![...ctx.fetched].some((p) => p.includes('gbt2260')), 'the region table is loaded lazily')
  await shot('stores', 1280, 1920)

  // an owner and a recruiter from the API
  const members = await api('/v1/admin/members?page_size=2')
  const [owner, recruiter] = members.items.map((m) => m.member)
  assert.ok(owner && recruiter)

  await page.click('[data-test="create-store"]')
  const dialog = '[data-test="create-dialog"]'
  await page.waitForSelector(`${dialog} [data-test="f-merchant"]`)
  // nothing filled in: the form says what is missing, in words
  await page.click('[data-test="create-submit"]')
  await page.waitForSelector(`${dialog} .el-form-item__error`)
  const missing = (await page.locator(`${dialog} .el-form-item__error`).allTextContents()).join(' ')
  assert.match(missing, /请填写门店编号/)
  assert.match(missing, /请选择门店所在的区县/)
  await page.fill(`${dialog} [data-test="f-rate"]`, '150')
  await page.waitForFunction((d) => document.querySelector(d).textContent.includes('请输入 0 到 100 之间'), dialog)

  // an id that exists: the server's refusal, shown in the dialog
  const taken = first.items[0].id
  await page.fill(`${dialog} [data-test="f-merchant"]`, taken)
  await page.fill(`${dialog} [data-test="f-rate"]`, '12.5')
  // a district without an agent (so the agents' tree gets a region whose share the platform keeps)
  const chosen = ['广东省', '深圳市', '福田区']
  const code = regionCode(chosen)
  await chooseRegion(page, dialog, chosen)
  assert.ok([...ctx.fetched].some((p) => p.includes('gbt2260')), 'the region table came with the dialog')
  const refused = await rawApi('/v1/admin/stores', { method: 'POST', body: { merchant: taken, region: code } })
  assert.equal(refused.body.error, 'duplicate_id')
  await page.click('[data-test="create-submit"]')
  const err = await page.waitForSelector('[data-test="create-error"]')
  assert.equal((await err.textContent()).trim(), zhPart(refused.body.message))
  await shot('stores-create-error')

  const id = `e2e-${randomBytes(3).toString('hex')}`
  await page.fill(`${dialog} [data-test="f-merchant"]`, id)
  await page.fill(`${dialog} [data-test="f-owner"]`, owner)
  await page.fill(`${dialog} [data-test="f-recruiter"]`, recruiter)
  await page.click('[data-test="create-submit"]')
  await page.waitForSelector(dialog, { state: 'hidden' })
  const made = await api(`/v1/admin/stores?q=${id}`)
  assert.equal(made.items.length, 1)
  const row = made.items[0]
  assert.equal(row.id, id)
  assert.equal(row.region.code, code)
  assert.deepEqual(row.region.names, chosen)
  assert.equal(row.commission_rate, '0.125')
  assert.equal(row.owner, owner)
  assert.equal(row.recruiter, recruiter)

  // in the list (searched), then its detail
  await page.fill('[data-test="store-search"]', id)
  await page.press('[data-test="store-search"]', 'Enter')
  await page.waitForFunction(
    (id) => [...document.querySelectorAll('[data-test="stores-table"] .el-table__body-wrapper [data-test="store-id"]')].map((e) => e.textContent.trim()).join() === id,
    id,
  )
  assert.equal((await page.textContent('[data-test="stores-table"] .el-table__body-wrapper [data-test="store-rate"]')).trim(), '12.5%')
  // a click anywhere on the row (here its region) opens the store
  await page.locator('[data-test="stores-table"] .el-table__body-wrapper [data-test="store-region"]').first().click()
  await page.waitForSelector('[data-page="store-detail"] [data-test="store-info"]')
  const detail = await api(`/v1/admin/stores/${id}`)
  assert.equal((await page.textContent('[data-test="detail-region"]')).trim(), detail.store.region.names.join(' / '))
  assert.equal((await page.textContent('[data-test="detail-owner"]')).trim(), owner)
  assert.equal(await page.getAttribute('[data-test="detail-owner"]', 'href'), `#/members/${owner}`)
  assert.equal((await page.textContent('[data-test="join-link"]')).trim(), detail.join_link)

  // the QR code shown is the store's join link
  await page.waitForSelector('[data-test="store-qr"]')
  const shownLink = await decodeQr(page, { selector: '[data-test="store-qr"]' })
  assert.equal(shownLink, detail.join_link)
  const url = new URL(shownLink)
  assert.equal(url.pathname, '/join')
  assert.equal(url.searchParams.get('store'), id)

  // the PNG download: a PNG holding the same code
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-test="download-png"]')])
  assert.equal(download.suggestedFilename(), `store-${id}-qr.png`)
  const file = join(tmpdir(), `zengzhi-e2e-${id}.png`)
  await download.saveAs(file)
  const png = await readFile(file)
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG file')
  assert.equal(await decodeQr(page, { dataUrl: `data:image/png;base64,${png.toString('base64')}` }), detail.join_link)
  // a new store has no flow yet: said in words instead of an empty chart
  assert.ok(detail.daily.every((d) => d.orders === 0))
  await page.waitForSelector('[data-test="no-flow"]')
  await shot('store-new')
})

test('store detail of a demo store: figures, 30-day chart, bound members as the server gives them', async () => {
  const page = ctx.page
  const { items } = await api('/v1/admin/stores?page_size=100')
  const busy = items.reduce((a, b) => (fen(b.last_30_days.gmv) > fen(a.last_30_days.gmv) ? b : a))
  await goto(`/stores/${busy.id}`)
  // the page may still show the store of the test before until the route has changed
  await page.waitForFunction((id) => document.querySelector('[data-test="store-info"] [data-test="detail-id"]')?.textContent.trim() === id, busy.id)
  const detail = await api(`/v1/admin/stores/${busy.id}`)
  const fig = async (k) => (await page.textContent(`[data-test="fig-${k}"] [data-test="value"]`)).trim()
  assert.equal(await fig('gmv30'), shownMoney(detail.store.last_30_days.gmv))
  assert.equal(await fig('commission30'), shownMoney(detail.store.last_30_days.commission))
  assert.equal(await fig('today-gmv'), shownMoney(detail.store.today.gmv))
  assert.equal((await fig('orders30')).replace(/,/g, ''), String(detail.store.last_30_days.orders))
  assert.ok(detail.daily.length === 30 && detail.daily.some((d) => d.orders > 0), 'the demo store has days with orders')
  await page.waitForSelector('[data-test="flow-chart"] canvas')
  await page.waitForTimeout(300)
  const n = await inked(page.locator('[data-test="flow-chart"] canvas'))
  assert.ok(n > 2000, `only ${n} inked pixels in the flow chart`)
  // bound members: the first page's ids
  assert.ok(detail.members_total > 0, 'the demo store has bound members')
  const shown = await page.locator('[data-test="bound-members"] .el-table__body-wrapper tr td:first-child').allTextContents()
  assert.deepEqual(shown.map((s) => s.trim()), detail.members.map((m) => m.id))
  await page.waitForSelector('[data-test="store-qr"]')
  await shot('store-detail', 1280, 1920)
})

test('agents: the tree shows the server’s agents and the platform’s share; appointing one', async () => {
  const page = ctx.page
  await goto('/agents')
  await page.waitForSelector('[data-test="agents-tree"] .el-table__body tr')
  const tree = await api('/v1/admin/agents')
  assert.ok(tree.regions.some((r) => r.platform_keeps_share && r.level === 'district'), 'the new store’s district has no agent')
  const appointed = tree.regions.filter((r) => r.agent)
  assert.equal(appointed.length, tree.agents)
  assert.ok(appointed.length > 0)
  for (const r of tree.regions) {
    const cell = page.locator(`[data-test="agent-${r.level}-${r.code}"]`)
    assert.equal(await cell.count(), 1, `a row for ${r.level} ${r.code}`)
    const text = (await cell.textContent()).trim()
    if (r.agent) {
      assert.equal(text, r.agent)
      assert.equal((await page.textContent(`[data-test="rewards-${r.level}-${r.code}"]`)).trim(), shownMoney(r.agent_rewards))
    } else {
      assert.equal(r.platform_keeps_share, true)
      assert.equal(text, '未任命代理，该级分成归平台')
    }
  }
  await shot('agents', 1280, 1920)

  // a city without an agent: appoint a member there through the dialog
  const open = tree.regions.find((r) => r.level === 'city' && r.platform_keeps_share && r.names.length === 2)
  assert.ok(open, 'a city without an agent in the demo')
  const { items } = await api('/v1/admin/members?page=3&page_size=1')
  const member = items[0].member
  await page.click('[data-test="appoint"]')
  const dialog = '[data-test="appoint-dialog"]'
  await page.waitForSelector(`${dialog} [data-test="f-member"]`)
  await page.locator(`${dialog} [data-test="f-level"]`).getByText('市代', { exact: true }).click()
  await chooseRegion(page, dialog, open.names)
  await page.fill(`${dialog} [data-test="f-member"]`, member)
  await page.click('[data-test="appoint-submit"]')
  const box = page.locator('.el-message-box')
  await box.waitFor()
  assert.match(await box.textContent(), new RegExp(`${member}.*${open.names.join(' / ')}.*市级代理`))
  await box.getByRole('button', { name: '确认' }).click()
  const result = await page.waitForSelector('[data-test="appoint-result"]')
  assert.match(await result.textContent(), /已任命/)
  const after = await api('/v1/admin/agents')
  const now = after.regions.find((r) => r.level === 'city' && r.code === open.code)
  assert.equal(now.agent, member)
  assert.equal(now.platform_keeps_share, false)
  assert.equal(after.agents, tree.agents + 1)
  await page.waitForFunction(
    ({ sel, member }) => document.querySelector(sel)?.textContent.trim() === member,
    { sel: `[data-test="agent-city-${open.code}"]`, member },
  )

  // the same region again: the server refuses, its message is shown
  const again = await rawApi('/v1/admin/agents', { method: 'POST', body: { member, level: 'city', region: open.code } })
  assert.equal(again.body.error, 'region_taken')
  await page.click('[data-test="appoint"]')
  await page.locator(`${dialog} [data-test="f-level"]`).getByText('市代', { exact: true }).click()
  await chooseRegion(page, dialog, open.names)
  await page.fill(`${dialog} [data-test="f-member"]`, member)
  await page.click('[data-test="appoint-submit"]')
  await page.locator('.el-message-box').getByRole('button', { name: '确认' }).click()
  const err = await page.waitForSelector('[data-test="appoint-error"]')
  assert.equal((await err.textContent()).trim(), zhPart(again.body.message))
  await shot('agents-appoint-refused')
  await page.locator(dialog).getByRole('button', { name: '取消' }).click()
})

test('shareholders: the preview per shareholder is the server’s; setting one; distributing pays the preview', async () => {
  const page = ctx.page
  // something in the dividend pool: a share of the platform's commission goes there, then an order
  await api('/v1/admin/rules', { method: 'PUT', body: { dividends: { share_of_platform: '0.37' } } })
  const { items: buyers } = await api('/v1/admin/members?page=5&page_size=1')
  const { items: stores } = await api('/v1/admin/stores?page_size=1')
  const order = { order: `e2e-${randomBytes(3).toString('hex')}`, member: buyers[0].member, merchant: stores[0].id, amount: '1234.57' }
  await api('/v1/orders', { method: 'POST', body: order })
  await goto('/shareholders')
  await page.waitForSelector('[data-test="shareholders-table"] .el-table__body tr')
  let view = await api('/v1/admin/shareholders')
  assert.ok(view.shareholders.length > 0)
  const rowsShown = async () => {
    const members = await page.locator('[data-test="shareholders-table"] [data-test="sh-member"]').allTextContents()
    const previews = await page.locator('[data-test="shareholders-table"] [data-test="sh-preview"]').allTextContents()
    return members.map((m, i) => [m.trim(), previews[i].trim()])
  }
  assert.deepEqual(await rowsShown(), view.shareholders.map((s) => [s.member, shownMoney(s.preview)]))
  const card = async (k) => (await page.textContent(`[data-test="card-${k}"] [data-test="value"]`)).trim()
  assert.equal(await card('pool'), shownMoney(view.dividend_pool))
  assert.equal(await card('preview-total'), shownMoney(view.preview_total))
  await shot('shareholders', 1280, 1920)

  // a new shareholder through the form: the server lists it and the previews change with it
  const { items } = await api('/v1/admin/members?page=4&page_size=1')
  const member = items[0].member
  await page.fill('[data-test="f-sh-member"]', member)
  await page.fill('[data-test="f-sh-weight"]', '4')
  await page.click('[data-test="sh-save"]')
  await page.locator('.el-message-box').getByRole('button', { name: '确认' }).click()
  await page.waitForSelector('[data-test="set-result"].el-alert--success')
  view = await api('/v1/admin/shareholders')
  assert.equal(view.shareholders.find((s) => s.member === member)?.weight, 4)
  await page.waitForFunction((n) => document.querySelectorAll('[data-test="shareholders-table"] [data-test="sh-member"]').length === n, view.shareholders.length)
  assert.deepEqual(await rowsShown(), view.shareholders.map((s) => [s.member, shownMoney(s.preview)]))

  // distributing: the confirmation names the preview total; the server then records it
  assert.ok(fen(view.preview_total) > 0n, 'the demo has dividends to distribute')
  await page.click('[data-test="distribute"]')
  const box = page.locator('.el-message-box')
  await box.waitFor()
  assert.ok((await box.textContent()).includes(shownMoney(view.preview_total)))
  await box.getByRole('button', { name: '确认' }).click()
  await page.waitForSelector('[data-test="distribute-result"].el-alert--success')
  const after = await api('/v1/admin/shareholders')
  assert.equal(after.history.length, view.history.length + 1)
  assert.equal(after.history[0].total, view.preview_total)
  assert.deepEqual(
    after.history[0].payouts.map((p) => [p.member, p.amount]).sort(),
    view.shareholders.filter((s) => fen(s.preview) > 0n).map((s) => [s.member, s.preview]).sort(),
  )
  await page.waitForFunction(() => document.querySelectorAll('[data-test="dividend-history"] .el-table__body tr').length > 0)
  await shot('shareholders-distributed')
})

test('an auditor sees the pages without the create, appoint, set or distribute actions; an operator cannot distribute', async () => {
  const page = ctx.page
  const auditor = await ctx.signInAs('auditor')
  await goto('/stores')
  await page.waitForSelector('[data-test="stores-table"] .el-table__body tr')
  assert.equal(await page.locator('[data-test="create-store"]').count(), 0)
  assert.match(await page.textContent('[data-page="stores"]'), /只读角色/)
  await goto('/agents')
  await page.waitForSelector('[data-test="agents-tree"] .el-table__body tr')
  assert.equal(await page.locator('[data-test="appoint"]').count(), 0)
  assert.equal(await page.locator('[data-test="appoint-here"]').count(), 0)
  await goto('/shareholders')
  await page.waitForSelector('[data-test="shareholders-table"]')
  assert.equal(await page.locator('[data-test="distribute"]').count(), 0)
  assert.equal(await page.locator('[data-test="set-shareholder"]').count(), 0)
  await shot('shareholders-auditor')
  // what the page hides the server refuses
  const refused = await rawApi('/v1/admin/stores', { method: 'POST', token: auditor.token, body: { merchant: 'no', region: '440305' } })
  assert.equal(refused.status, 403)

  const operator = await ctx.signInAs('operator')
  await goto('/shareholders')
  await page.waitForSelector('[data-test="set-shareholder"]')
  assert.equal(await page.locator('[data-test="distribute"]').count(), 0)
  const dividends = await rawApi('/v1/admin/dividends', { method: 'POST', token: operator.token, body: {} })
  assert.equal(dividends.status, 403)
  await goto('/stores')
  await page.waitForSelector('[data-test="create-store"]')
})

test('English: the pages speak English', async () => {
  const page = ctx.page
  await goto('/stores')
  await page.click('[data-test="lang"]')
  await page.getByRole('option', { name: 'English' }).click()
  await page.waitForSelector('text=New store')
  await shot('stores-en')
  await goto('/agents')
  await page.waitForSelector('[data-test="agents-tree"] .el-table__body tr')
  assert.match(await page.textContent('[data-page="agents"]'), /stays with the platform/)
  await shot('agents-en')
  await goto('/shareholders')
  await page.waitForSelector('[data-test="shareholders-table"]')
  assert.match(await page.textContent('[data-page="shareholders"]'), /Would receive now/)
  await shot('shareholders-en')
})
