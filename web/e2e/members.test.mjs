// End-to-end: the console's members list and detail (会员) and orders page (订单) against the
// real `zengzhi serve --demo`, started with a settlement delay so orders can be held as pending
// (and refunded) — the only way an order is pending.
//
//   npm run build && node --test e2e/members.test.mjs
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { demo } from './harness.mjs'
import { group, shownMoney, shownPoints } from './readings.mjs'

// one hour's refund window: an order posted now stays pending for the whole run
const confDir = mkdtempSync(join(tmpdir(), 'zengzhi-e2e-conf-'))
const confFile = join(confDir, 'zengzhi.toml')
writeFileSync(confFile, 'settlement_delay_s = 3600\n')
after(() => rmSync(confDir, { recursive: true, force: true }))

const ctx = demo({ extraArgs: ['--config', confFile] })
const { api, shot, goto } = ctx

/** A rate (fraction, up to 6 decimals) as the bar's "52.34%" (truncated). */
const shownPercent = (rate) => {
  const [i, f = ''] = rate.split('.')
  const ppm = BigInt(i + f.padEnd(6, '0').slice(0, 6))
  const bp = ppm / 100n
  return `${bp / 100n}.${String(bp % 100n).padStart(2, '0')}%`
}
const text = async (sel) => (await ctx.page.textContent(sel)).trim()
const rowsOf = (table) => ctx.page.locator(`[data-test="${table}"] .el-table__body-wrapper tr.el-table__row`)

/** A member with a cap, holding points, with at least two direct referrals (scanning pages). */
async function memberWithReferrals() {
  for (let page = 1; page <= 20; page++) {
    const p = await api(`/v1/admin/members?status=holding&sort=points&order=desc&page_size=200&page=${page}`)
    const m = p.items.find((r) => r.direct_referrals >= 2 && r.cap !== '0.00' && /^u\d+$/.test(r.member))
    if (m) return m
    if (p.items.length < 200) break
  }
  throw new Error('the demo has no holding member with referrals')
}

let chosen // the member the first tests look at

test('members: search one, see it in the list, open it; figures and cap progress are the API’s', async () => {
  await ctx.signInAsAdmin()
  chosen = await memberWithReferrals()
  const page = ctx.page

  await goto('/members')
  await page.waitForSelector('[data-page="members"] [data-test="members-table"] tr.el-table__row')
  const all = await api('/v1/admin/members')
  assert.match(await text('[data-page="members"] [data-test="list-total"]'), new RegExp(`共 ${group(String(all.total))} 位会员`))
  await shot('members', 1280, 1920)

  // sort by points, highest first: the first row is the API's
  await page.locator('[data-test="members-table"] th', { hasText: '积分' }).first().locator('.caret-wrapper').click()
  await page.waitForFunction(() => location.hash.includes('sort=points'))
  const top = await api('/v1/admin/members?sort=points&order=desc&page_size=1')
  await page.waitForFunction((id) => document.querySelector('[data-test="members-table"] [data-test="member-id"]')?.textContent?.trim() === id, top.items[0].member)

  // search
  await page.fill('[data-test="search"]', chosen.member)
  await page.press('[data-test="search"]', 'Enter')
  await page.waitForFunction(() => location.hash.includes('q='))
  // the unfiltered page may hold the member too: wait for the search's own rows, as many as the API's
  const found = await api(`/v1/admin/members?q=${encodeURIComponent(chosen.member)}&sort=points&order=desc`)
  await page.waitForFunction(
    ({ id, n }) => {
      const ids = [...document.querySelectorAll('[data-test="members-table"] [data-test="member-id"]')].map((e) => e.textContent.trim())
      return ids.length === n && ids.includes(id)
    },
    { id: chosen.member, n: found.items.length },
  )
  assert.equal(await rowsOf('members-table').count(), found.items.length)

  // the list's own figures for that row
  const row = rowsOf('members-table').filter({ hasText: chosen.member }).first()
  assert.ok((await row.textContent()).includes(shownMoney(chosen.cash)))
  assert.ok((await row.textContent()).includes(shownPercent(chosen.cap_progress)))

  // open it
  await row.click()
  await page.waitForSelector('[data-page="member"] [data-test="member-card"]')
  assert.ok(page.url().includes(`#/members/${chosen.member}`))
  const m = await api(`/v1/admin/members/${chosen.member}`)
  assert.equal(await text('[data-test="detail-points"] .stat-value'), shownPoints(m.points))
  assert.equal(await text('[data-test="detail-cash"] .stat-value'), shownMoney(m.cash))
  assert.equal(await text('[data-test="detail-status"]'), { holding: '持有中', exited: '已出局', never_bought: '未消费', idle: '已清仓' }[m.status])

  // the cap progress bar: its value and its text
  const bar = page.locator('[data-test="detail-cap"] [role="progressbar"]')
  assert.equal(await bar.count(), 1)
  const shown = shownPercent(m.cap_progress)
  assert.equal(await bar.getAttribute('aria-valuenow'), String(Number(shown.slice(0, -1))))
  assert.equal(await text('[data-test="detail-cap"] .el-progress__text'), shown)
  assert.equal(await text('[data-test="cap-text"]'), `已实现 ${shownMoney(m.cycle_realized)} / 上限 ${shownMoney(m.cap)}`)
})

test('member detail: ledger with a reasons filter, orders, and the referral tree at depth 1', async () => {
  const page = ctx.page
  const id = chosen.member
  // 流水 (the first tab)
  await page.waitForSelector('[data-test="ledger-table"] tr.el-table__row')
  const ledger = await api(`/v1/admin/members/${id}/ledger?limit=50`)
  assert.equal(await rowsOf('ledger-table').count(), ledger.items.length)
  await shot('member-ledger', 1280, 1920)
  // only purchases
  await page.click('[data-test="ledger-reasons"]')
  await page.locator('.el-select-dropdown__item:visible', { hasText: '消费获得积分' }).click()
  await page.keyboard.press('Escape')
  const orderRows = await api(`/v1/admin/members/${id}/ledger?limit=50&reasons=order`)
  await page.waitForFunction(
    (n) => {
      const cells = [...document.querySelectorAll('[data-test="ledger-table"] [data-test="ledger-reason"]')].map((e) => e.textContent.trim())
      return cells.length === n && cells.every((c) => c === '消费获得积分')
    },
    orderRows.items.length,
  )

  // 订单
  await page.getByRole('tab', { name: '订单' }).click()
  await page.waitForFunction(() => location.hash.includes('tab=orders'))
  const orders = await api(`/v1/admin/members/${id}/orders`)
  if (orders.items.length) {
    await page.waitForSelector('[data-page="member"] [data-test="orders-table"] tr.el-table__row')
    assert.equal(await rowsOf('orders-table').count(), orders.items.length)
    assert.equal(await text('[data-page="member"] [data-test="orders-table"] [data-test="order-id"]'), orders.items[0].order)
  }
  await shot('member-orders', 1280, 1920)

  // 推荐关系, one level: as many top nodes as the API's invitees
  await page.getByRole('tab', { name: '推荐关系' }).click()
  await page.waitForSelector('[data-test="referral-tree"] .el-tree-node')
  await shot('member-referrals', 1280, 1920)
  await page.click('[data-test="referral-depth"]')
  await page.locator('.el-select-dropdown__item:visible', { hasText: /^1 层$/ }).click()
  const tree = await api(`/v1/admin/members/${id}/referrals?depth=1`)
  assert.ok(tree.nodes.length >= 2)
  assert.equal(tree.direct, chosen.direct_referrals)
  // the tree of the deeper level stays until the new one is read; at the top it has as many nodes
  await page.waitForFunction(() => document.querySelector('[data-test="referral-summary"]')?.textContent.includes('（1 层以内）'))
  await page.waitForFunction((n) => document.querySelectorAll('[data-test="referral-tree"] > .el-tree-node').length === n, tree.nodes.length)
  assert.match(await text('[data-test="referral-summary"]'), new RegExp(`直推 ${tree.direct} 人，显示 ${tree.nodes.length} 人（1 层以内）`))
  const shownIds = await page.locator('[data-test="referral-tree"] > .el-tree-node [data-test="tree-member"]').allTextContents()
  assert.deepEqual(shownIds.map((s) => s.trim()).sort(), tree.nodes.map((n) => n.member).sort())
  assert.equal(await page.locator('[data-test="referral-truncated"]').count(), tree.truncated ? 1 : 0)

  // a node opens that member; back returns to the list as it was filtered
  await page.locator('[data-test="referral-tree"] [data-test="tree-member"]').first().click()
  await page.waitForFunction((first) => location.hash.startsWith(`#/members/${first}`), tree.nodes[0].member)
  await page.waitForSelector(`[data-page="member"] h2:has-text("${tree.nodes[0].member}")`)
  await page.click('[data-test="back"]')
  await page.waitForSelector('[data-page="members"] [data-test="members-table"] tr.el-table__row')
  assert.ok(page.url().includes(`q=${id}`), page.url())
  assert.equal(await page.inputValue('[data-test="search"]'), id)
})

test('members export: the file is the server’s CSV for the same filters', async () => {
  const page = ctx.page
  await goto('/members?status=exited')
  await page.waitForSelector('[data-test="members-table"] tr.el-table__row')
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-test="export"]')])
  const got = await readFile(await download.path(), 'utf8')
  const res = await fetch(`${ctx.apiBase}/v1/admin/export/members.csv?status=exited`, { headers: { authorization: `Bearer ${ctx.TOKEN}` } })
  assert.equal(got, await res.text())
  assert.ok(got.split('\n')[0].includes('cap_progress'))
})

let pendingIds
test('orders: a pending order is refunded through the confirmation; the API then says refunded', async () => {
  const page = ctx.page
  const settled = await api('/v1/admin/orders?status=settled&page_size=1')
  const store = settled.items[0].merchant
  const buyer = chosen.member
  pendingIds = [`e2e-${randomBytes(4).toString('hex')}`, `e2e-${randomBytes(4).toString('hex')}`]
  for (const [k, order] of pendingIds.entries()) {
    const res = await fetch(`${ctx.apiBase}/v1/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ctx.TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ order, member: buyer, merchant: store, amount: k === 0 ? '88.00' : '1234.50' }),
    })
    assert.equal(res.status, 202, 'held for the settlement delay')
    assert.equal((await res.json()).status, 'pending')
  }

  await goto('/orders')
  await page.waitForSelector('[data-page="orders"] [data-test="orders-table"] tr.el-table__row')
  await shot('orders', 1280, 1920)
  await page.getByRole('tab', { name: '待结算' }).click()
  await page.waitForFunction(() => location.hash.includes('status=pending'))
  await page.waitForFunction(() => document.querySelectorAll('[data-test="orders-table"] .el-table__body-wrapper tr.el-table__row').length === 2)
  const row = rowsOf('orders-table').filter({ hasText: pendingIds[0] })
  assert.ok((await row.textContent()).includes('¥88.00'))
  assert.ok((await row.textContent()).includes(store))
  await shot('orders-pending')

  // the fixed column's copy of the button is the visible one
  await page.locator(`[data-test="refund"]:visible`).first().click()
  const box = page.locator('.el-message-box')
  const asked = await box.textContent()
  assert.match(asked, new RegExp(`确认为订单 (${pendingIds.join('|')})`))
  const target = pendingIds.find((o) => asked.includes(o))
  await box.getByRole('button', { name: '退款' }).click()
  await page.waitForSelector('[data-test="row-result"]')
  assert.equal((await page.locator('[data-test="row-result"]').first().textContent()).trim(), '已退款')
  const refunded = await api('/v1/admin/orders?status=refunded')
  assert.ok(refunded.items.some((o) => o.order === target), `${target} is refunded`)
  const still = await api('/v1/admin/orders?status=pending')
  assert.deepEqual(still.items.map((o) => o.order), pendingIds.filter((o) => o !== target))
  await shot('orders-refunded')

  // the row's button is gone; the other order can still be refunded
  assert.equal(await page.locator('[data-test="refund"]:visible').count(), 1)
  // a refund of a settled order is refused, and the server says why
  const settledOne = settled.items[0].order
  const refused = await fetch(`${ctx.apiBase}/v1/admin/orders/${settledOne}/refund`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ctx.TOKEN}`, 'content-type': 'application/json' },
    body: '{}',
  })
  assert.equal(refused.status, 409)
  assert.equal((await refused.json()).error, 'already_settled')
})

test('an auditor sees the orders but no refund button; an operator sees it and no export', async () => {
  const page = ctx.page
  const auditor = await ctx.signInAs('auditor')
  await goto('/orders?status=pending')
  await page.waitForSelector('[data-test="orders-table"] tr.el-table__row')
  assert.ok((await rowsOf('orders-table').count()) >= 1, 'a pending order is listed')
  assert.equal(await page.locator('[data-test="refund"]').count(), 0)
  assert.equal(await page.locator('[data-test="export"]').count(), 1, 'auditors may export')
  await shot('orders-auditor')

  const operator = await ctx.signInAs('operator')
  assert.equal(await page.locator('aside [data-section="orders"]').count(), 1, 'orders is in the operator’s menu')
  await goto('/orders?status=pending')
  await page.waitForSelector('[data-test="orders-table"] tr.el-table__row')
  assert.ok((await page.locator('[data-test="refund"]:visible').count()) >= 1)
  assert.equal(await page.locator('[data-test="export"]').count(), 0, 'operators have no exports')
  await goto('/members')
  await page.waitForSelector('[data-test="members-table"] tr.el-table__row')
  assert.equal(await page.locator('[data-test="export"]').count(), 0)
})
