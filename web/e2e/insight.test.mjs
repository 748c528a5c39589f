// End-to-end: the insight parts of the console (per-day dashboard, finance per day and the chain
// check, the rules dry run and history, legacy-debt coins) against a real `zengzhi serve --demo`.
//
//   npm run build && node --test e2e/insight.test.mjs
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { demo, fen } from './harness.mjs'
import { inked, shownCount, shownMoney, zhPart } from './readings.mjs'

const ctx = demo()
const { api, shot, goto } = ctx

// The test's own reading of how the console shows figures.
const text = async (sel) => (await ctx.page.textContent(sel))?.trim()

async function confirmBox() {
  await ctx.page.locator('.el-message-box').getByRole('button', { name: '确认' }).click()
}

test('dashboard: today’s cards are the server’s comparison after a new order; the daily chart is drawn; the leaderboard is the server’s', async () => {
  await ctx.signInAsAdmin()
  const before = await api('/v1/admin/stats/compare')
  const { items: stores } = await api('/v1/admin/stores')
  const state = await api('/v1/admin/state')
  const member = Object.keys(state.members)[0]
  assert.ok(stores.length > 0 && member, 'the demo has stores and members')
  const order = `e2e-${randomBytes(4).toString('hex')}`
  await api('/v1/orders', { method: 'POST', body: { order, member, merchant: stores[0].id, amount: '188.80' } })

  await ctx.page.reload()
  await ctx.page.waitForSelector('[data-test="cmp-orders"] [data-test="current"]')
  const cmp = await api('/v1/admin/stats/compare')
  assert.equal(BigInt(cmp.day.orders.current), BigInt(before.day.orders.current) + 1n, 'the new order counts today')
  assert.equal(fen(cmp.day.gmv.current) - fen(before.day.gmv.current), 18880n)
  assert.equal(await text('[data-test="cmp-orders"] [data-test="current"]'), shownCount(cmp.day.orders.current))
  assert.equal(await text('[data-test="cmp-gmv"] [data-test="current"]'), shownMoney(cmp.day.gmv.current))
  assert.equal(await text('[data-test="cmp-new_members"] [data-test="current"]'), shownCount(cmp.day.new_members.current))

  // the per-day chart
  await ctx.page.waitForSelector('[data-test="daily-chart-flow"] canvas')
  await ctx.page.waitForTimeout(500)
  const n = await inked(ctx.page.locator('[data-test="daily-chart-flow"] canvas').first())
  assert.ok(n > 2000, `only ${n} inked pixels in the daily chart`)
  await ctx.page.getByText('盈利池与价格', { exact: true }).click()
  await ctx.page.waitForSelector('[data-test="daily-chart-pool"] canvas')
  await ctx.page.waitForTimeout(500)
  assert.ok((await inked(ctx.page.locator('[data-test="daily-chart-pool"] canvas').first())) > 2000, 'the pool chart is drawn')

  // the leaderboards
  const boards = await api('/v1/admin/leaderboards?days=7&limit=10')
  assert.ok(boards.stores.length > 0, 'the demo has store flow this week')
  const first = ctx.page.locator('[data-test="board-stores"] .el-table__body tr').first()
  const cells = (await first.locator('td').allTextContents()).map((s) => s.trim())
  assert.deepEqual(cells, ['1', boards.stores[0].merchant, shownCount(boards.stores[0].orders), shownMoney(boards.stores[0].gmv)])
  if (boards.referrers.length > 0) {
    const r = (await ctx.page.locator('[data-test="board-referrers"] .el-table__body tr').first().locator('td').allTextContents()).map((s) => s.trim())
    assert.deepEqual(r, ['1', boards.referrers[0].member, shownMoney(boards.referrers[0].rewards)])
  }
  await shot('insight-dashboard', 1280, 1920)
})

test('finance: each day’s totals are the server’s; verify now shows progress and ends with the job’s result', async () => {
  await goto('/finance')
  await ctx.page.waitForSelector('[data-test="daily-table"] .el-table__body tr')
  const daily = await api('/v1/admin/finance/daily')
  const rows = ctx.page.locator('[data-test="daily-table"] .el-table__body tr')
  assert.equal(await rows.count(), daily.days.length)
  const newestFirst = [...daily.days].reverse()
  for (let i = 0; i < newestFirst.length; i++) {
    const d = newestFirst[i]
    const row = rows.nth(i)
    assert.equal((await row.locator('[data-test="day-date"]').textContent()).trim(), d.date)
    assert.equal((await row.locator('[data-test="day-in"]').textContent()).trim(), shownMoney(d.day_in), d.date)
    assert.equal((await row.locator('[data-test="in-total"]').textContent()).trim(), shownMoney(d.in_total), d.date)
    assert.equal((await row.locator('[data-test="where-total"]').textContent()).trim(), shownMoney(d.where_total), d.date)
    // the check mark is the page's own exact comparison, and agrees with the server's flag
    assert.equal(await row.locator('[data-test="day-ok"]').count(), d.balanced ? 1 : 0, d.date)
  }
  assert.equal(await ctx.page.locator('[data-test="daily-balanced"]').count(), daily.balanced ? 1 : 0)

  await ctx.page.click('[data-test="verify-now"]')
  await ctx.page.waitForSelector('[data-test="verify-progress"]')
  await ctx.page.waitForSelector('[data-test="verify-result"]', { timeout: 60_000 })
  const { items } = await api('/v1/admin/jobs')
  const job = items[0]
  assert.equal(job.state, 'done')
  assert.equal(job.result.ok, true)
  assert.equal(await ctx.page.getAttribute('[data-test="verify-progress"]', 'aria-valuenow'), '100')
  assert.equal(await text('[data-test="verify-checked"]'), `已校验 ${shownCount(job.checked)} / ${shownCount(job.total)} 条`)
  assert.match(await text('[data-test="verify-result"]'), new RegExp(`校验通过：${shownCount(job.result.entries)} 条`))
  assert.equal(await text('[data-test="verify-head"]'), job.result.head_hash)
  await shot('insight-finance', 1280, 1920)
})

test('rules: a compliance warning shows while typing, before applying; the confirmation diffs; the history names who', async () => {
  await goto('/rules')
  await ctx.page.waitForSelector('[data-rule="exit.multiple"] input')
  const before = (await api('/v1/admin/rules')).rules.exit.multiple
  const expected = await api('/v1/admin/rules/dry-run', { method: 'POST', body: { exit: { multiple: '2' } } })
  assert.equal(expected.valid, true)
  const warning = expected.warnings.find((w) => w.path === 'exit.multiple')
  assert.ok(warning, 'multiple 2 is a compliance warning')

  await ctx.page.fill('[data-rule="exit.multiple"] input', '2')
  const field = await ctx.page.waitForSelector('[data-rule="exit.multiple"] [data-test="field-warning"]')
  assert.ok((await field.textContent()).includes(warning.zh))
  assert.ok((await text('[data-test="dry-run-warnings"]')).includes(warning.zh))
  assert.equal((await api('/v1/admin/rules')).rules.exit.multiple, before, 'nothing applied while typing')
  await shot('insight-rules-dry-run')

  // an invalid value: the server's problem, as you type
  await ctx.page.fill('[data-rule="commission.pool_share"] input', '0.95')
  const bad = await api('/v1/admin/rules/dry-run', { method: 'POST', body: { exit: { multiple: '2' }, commission: { pool_share: '0.95' } } })
  assert.equal(bad.valid, false)
  const problems = await ctx.page.waitForSelector('[data-test="dry-run-problems"]')
  for (const p of bad.problems) assert.ok((await problems.textContent()).includes(p.zh), p.zh)
  await ctx.page.fill('[data-rule="commission.pool_share"] input', (await api('/v1/admin/rules')).rules.commission.pool_share)
  await ctx.page.waitForSelector('[data-test="dry-run-valid"]')

  await ctx.page.click('[data-test="review"]')
  const diff = await ctx.page.waitForSelector('[data-test="diff"]')
  const diffText = await diff.textContent()
  assert.match(diffText, /exit\.multiple/)
  assert.ok(diffText.includes(`${before} ×`) && diffText.includes('2 ×'), diffText)
  assert.ok((await text('[data-test="review-warnings"]')).includes(warning.zh))
  await shot('insight-rules-confirm')
  await ctx.page.click('[data-test="apply"]')
  await ctx.page.waitForFunction(() => document.querySelector('[data-test="warnings"]')?.textContent.includes('非法集资'))
  assert.equal((await api('/v1/admin/rules')).rules.exit.multiple, '2')

  await ctx.page.getByRole('tab', { name: '历史' }).click()
  await ctx.page.waitForSelector('[data-test="history-table"] .el-table__body tr')
  const { items } = await api('/v1/admin/rules/history')
  const last = items[0]
  assert.ok(last.changes.some((c) => c.key === 'exit.multiple' && c.after === '2'))
  assert.match(last.who ?? '', /admin/, 'the history knows who')
  const row = ctx.page.locator('[data-test="history-table"] .el-table__body tr').first()
  assert.equal((await row.locator('[data-test="history-who"]').textContent()).trim(), last.who)
  assert.match(await row.textContent(), /封顶倍数/)
  assert.ok((await row.textContent()).includes(`${before} → 2`))
  await shot('insight-rules-history', 1280, 1920)
})

test('coins CSV: one invalid row applies nothing; fixed, every row is granted and the members’ coins grow', async () => {
  const { items } = await api('/v1/admin/members?page_size=2')
  const [a, b] = items.map((m) => m.member)
  assert.ok(a && b, 'two members')
  const coinsOf = async (id) => fen((await api(`/v1/admin/members/${encodeURIComponent(id)}`)).coins)
  const [a0, b0] = [await coinsOf(a), await coinsOf(b)]
  const ghost = `nobody-${randomBytes(3).toString('hex')}`

  await goto('/operations')
  await ctx.page.waitForSelector('[data-test="op-coins"]')
  const upload = async (name, csv) =>
    ctx.page.setInputFiles('[data-test="coins-file"] input[type=file]', { name, mimeType: 'text/csv', buffer: Buffer.from(csv) })

  const badCsv = `member,amount\n${a},12.34\n${ghost},5.00\n${b},1.5\n`
  await upload('bad.csv', badCsv)
  await ctx.page.waitForSelector('[data-test="coins-preview-table"] .el-table__body tr')
  assert.equal(await ctx.page.locator('[data-test="coins-preview-table"] .el-table__body tr').count(), 3)
  assert.match(await text('[data-test="coins-preview"]'), /3 行，合计 ¥18\.84/)
  await ctx.page.click('[data-test="coins-apply"]')
  await confirmBox()
  await ctx.page.waitForSelector('[data-test="coins-refused"]')
  // the server's answer to the same file (it applies nothing either)
  const expected = await api('/v1/admin/coins/batch', { method: 'POST', body: { csv: badCsv } })
  assert.equal(expected.applied, false)
  const statuses = (await ctx.page.locator('[data-test="coins-row-status"]').allTextContents()).map((s) => s.trim())
  assert.deepEqual(statuses, expected.rows.map((r) => (r.ok ? '有效（未发放）' : '无效')))
  const messages = (await ctx.page.locator('[data-test="coins-row-message"]').allTextContents()).map((s) => s.trim())
  assert.deepEqual(messages, expected.rows.map((r) => (r.message ? zhPart(r.message) : '')))
  assert.ok(messages[1].includes(ghost))
  assert.equal(await coinsOf(a), a0, 'nothing applied')
  assert.equal(await coinsOf(b), b0, 'nothing applied')
  await shot('insight-coins-refused')

  await upload('good.csv', `member,amount\n${a},12.34\n${b},1.5\n`)
  await ctx.page.waitForSelector('[data-test="coins-preview-table"]')
  await ctx.page.click('[data-test="coins-apply"]')
  await confirmBox()
  const applied = await ctx.page.waitForSelector('[data-test="coins-applied"]')
  assert.match(await applied.textContent(), /2 行成功，0 行失败，合计 ¥13\.84/)
  const ok = (await ctx.page.locator('[data-test="coins-row-status"]').allTextContents()).map((s) => s.trim())
  assert.deepEqual(ok, ['成功', '成功'])
  assert.equal(await coinsOf(a), a0 + 1234n)
  assert.equal(await coinsOf(b), b0 + 150n)
  await shot('insight-operations', 1280, 1920)
})

test('coins for one member: confirmed, granted, the API shows it', async () => {
  const { items } = await api('/v1/admin/members?page_size=1')
  const id = items[0].member
  const before = fen((await api(`/v1/admin/members/${encodeURIComponent(id)}`)).coins)
  await ctx.page.fill('[data-test="coins-member"]', id)
  await ctx.page.fill('[data-test="coins-amount"]', '3.21')
  await ctx.page.click('[data-test="coins-grant"]')
  await confirmBox()
  const r = await ctx.page.waitForSelector('[data-test="coins-one-result"].el-alert--success')
  assert.match(await r.textContent(), /日志序号/)
  assert.equal(fen((await api(`/v1/admin/members/${encodeURIComponent(id)}`)).coins), before + 321n)
})

test('only superadmin and finance may start the chain check: an auditor sees no button and the server refuses it', async () => {
  const auditor = await ctx.userOf('auditor')
  const refused = await fetch(`${ctx.apiBase}/v1/admin/jobs/verify`, { method: 'POST', headers: { authorization: `Bearer ${auditor.token}` } })
  assert.equal(refused.status, 403)
  assert.equal((await refused.json()).error, 'forbidden')

  await ctx.signInTo(auditor.username, auditor.password)
  await goto('/finance')
  await ctx.page.waitForSelector('[data-test="verify"]')
  await ctx.page.waitForSelector('[data-test="daily-table"]')
  assert.equal(await ctx.page.locator('[data-test="verify-now"]').count(), 0)

  const cashier = await ctx.signInAs('finance')
  await goto('/finance')
  await ctx.page.waitForSelector('[data-test="verify-now"]')
  // finance may not grant coins: the card is there, its buttons are not usable
  await goto('/operations')
  await ctx.page.waitForSelector('[data-test="op-coins"]')
  assert.equal(await ctx.page.locator('[data-test="coins-grant"]').isDisabled(), true)
})

test('the new blocks speak English one switch away', async () => {
  await ctx.signInAsAdmin()
  await ctx.page.click('[data-test="lang"]')
  await ctx.page.getByRole('option', { name: 'English' }).click()
  await ctx.page.waitForSelector('text=Today vs yesterday')
  assert.match(await text('[data-test="boards"]'), /Stores by flow/)
  await goto('/finance')
  await ctx.page.waitForSelector('[data-test="daily-table"]')
  assert.match(await text('[data-test="finance-daily"]'), /Money conservation per day/)
  await shot('insight-finance-en')
  await goto('/operations')
  await ctx.page.waitForSelector('[data-test="op-coins"]')
  assert.match(await text('[data-test="op-coins"]'), /Legacy-debt coins/)
  await shot('insight-operations-en')
})
