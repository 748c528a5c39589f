// End-to-end: the simulator workbench (/admin/#/simulator) against a real `zengzhi serve --demo`:
// the seed's projection, a short simulation to its report (progress, honest metrics, charts,
// the zip), a cancelled run, an invalid scenario's key, and a what-if on the demo's journal.
//
//   npm run build && node --test e2e/simulator.test.mjs
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { demo } from './harness.mjs'
import { inked, shownMoney } from './readings.mjs'

const ctx = demo()
const { api, shot, goto } = ctx

/** The test's own reading of how the page writes a share. */
const pct = (v) => `${(v * 100).toFixed(1)}%`

async function pickPreset(name) {
  await ctx.page.click('[data-test="preset"]')
  await ctx.page.locator('.el-select-dropdown__item:visible', { hasText: `${name} —` }).click()
}

async function setKey(path, value) {
  await ctx.page.fill(`input[data-key="${path}"]`, value)
}

async function jobState() {
  return ctx.page.getAttribute('[data-test="job-state"]', 'data-state')
}

test('the seed preset: the first exit at the order and with the pay the server works out', async () => {
  await ctx.signInAsAdmin()
  await goto('/simulator')
  await ctx.page.waitForSelector('[data-page="simulator"] [data-test="preset"]')
  const seed = await api('/v1/admin/sim/seed')
  // SPEC §9 (docs/rules.md): orders of 1000, the first member force-sold at 1200, paid 960.
  assert.equal(seed.exit.order, 1137)
  assert.equal(seed.exit.paid, '960.00')
  await ctx.page.click('[data-test="run"]')
  const exit = await ctx.page.waitForSelector('[data-test="seed-exit"]')
  assert.equal(await exit.getAttribute('data-order'), String(seed.exit.order))
  assert.equal(await exit.getAttribute('data-paid'), seed.exit.paid)
  const text = await exit.textContent()
  assert.ok(text.includes(`第 ${seed.exit.order} 笔订单后`), text)
  assert.ok(text.includes(`到账 ${shownMoney(seed.exit.paid)}`), text)
  assert.ok(text.includes('¥960.00'), text)
  await shot('simulator-seed')
})

let finishedJob
test('a short simulation runs with a progress bar to its report: honest metrics as the job API says, charts drawn, zip downloaded', async () => {
  await pickPreset('steady')
  await setKey('horizon_days', '60')
  await setKey('runs', '6')
  await ctx.page.waitForSelector('[data-test="valid"]')
  const toml = await ctx.page.inputValue('textarea[data-test="toml"]')
  assert.match(toml, /^horizon_days = 60/m)
  assert.match(toml, /^runs = 6$/m)
  await ctx.page.click('[data-test="run"]')
  await ctx.page.waitForSelector('[data-test="progress"]')
  await ctx.page.waitForSelector('[data-test="job-state"][data-state="done"]', { timeout: 120_000 })
  const { items } = await api('/v1/admin/sim/jobs')
  const job = await api(`/v1/admin/sim/jobs/${items[0].id}`)
  finishedJob = job
  assert.equal(job.job.state, 'done')
  assert.equal(job.job.total, 6)
  assert.equal(job.report.horizon_days, 60)
  assert.equal(await ctx.page.getAttribute('[data-test="progress"]', 'aria-valuenow'), '100')
  // honest metrics first, equal to the job's
  await ctx.page.waitForSelector('[data-test="honest"]')
  for (const key of ['cap_reached_share', 'avg_net_rebate_share', 'still_waiting_share', 'price_growth_last_30_days']) {
    const shown = (await ctx.page.textContent(`[data-honest="${key}"] [data-test="honest-value"]`)).trim()
    assert.equal(shown, pct(job.report.honest[key].p50), key)
  }
  const bound = (await ctx.page.textContent('[data-honest="net_rebate_bound"] [data-test="honest-value"]')).trim()
  assert.equal(bound, pct(job.report.honest.net_rebate_bound))
  const order = await ctx.page.evaluate(() => {
    const r = document.querySelector('[data-test="report"]')
    const h = r.querySelector('[data-test="honest"]')
    const c = r.querySelector('[data-chart="sim"]')
    return h.compareDocumentPosition(c) & Node.DOCUMENT_POSITION_FOLLOWING
  })
  assert.ok(order, 'the honest metrics come before the charts')
  // four charts, each drawn
  await ctx.page.waitForTimeout(500)
  const canvases = await ctx.page.$$('[data-test="report"] [data-chart="sim"] canvas')
  assert.equal(canvases.length, 4)
  for (const c of canvases) assert.ok((await inked(c)) > 1500, 'a chart is drawn')
  // the zip
  const [download] = await Promise.all([ctx.page.waitForEvent('download'), ctx.page.click('[data-test="zip"]')])
  assert.match(download.suggestedFilename(), /^simulation-\d+\.zip$/)
  const bytes = await readFile(await download.path())
  assert.equal(bytes.subarray(0, 2).toString(), 'PK')
  assert.ok(bytes.includes(Buffer.from('timeseries.csv')) && bytes.includes(Buffer.from('scenario.toml')))
  const [scenario] = await Promise.all([ctx.page.waitForEvent('download'), ctx.page.click('[data-test="download-toml"]')])
  assert.equal(await readFile(await scenario.path(), 'utf8'), job.scenario_toml)
  await shot('simulator-report', 1280, 1920)
})

test('a long run is cancelled: it stops short of its total', async () => {
  await setKey('horizon_days', '365')
  await setKey('runs', '1000')
  await ctx.page.waitForSelector('[data-test="valid"]')
  await ctx.page.click('[data-test="run"]')
  await ctx.page.waitForSelector('[data-test="job-state"][data-state="running"]')
  await ctx.page.click('[data-test="cancel"]')
  await ctx.page.waitForSelector('[data-test="job-state"][data-state="cancelled"]', { timeout: 60_000 })
  const { items } = await api('/v1/admin/sim/jobs')
  assert.equal(items[0].state, 'cancelled')
  assert.ok(items[0].done < items[0].total, `${items[0].done} of ${items[0].total}`)
  assert.equal(await jobState(), 'cancelled')
})

test('an invalid scenario shows the key at fault and cannot run', async () => {
  await ctx.page.fill('textarea[data-test="toml"]', 'horizon_days = 30\n[arrivals]\nrate = "fast"\n')
  const item = await ctx.page.waitForSelector('[data-test="problems"] li[data-path="arrivals.rate"]')
  assert.match(await item.textContent(), /arrivals\.rate.*第 3 行/)
  assert.equal(await ctx.page.isDisabled('[data-test="run"]'), true)
  await shot('simulator-invalid')
})

test('a what-if with another exit multiple shows the difference the server works out', async () => {
  await ctx.page.getByRole('tab', { name: '假设分析（本系统历史）' }).click()
  await ctx.page.waitForSelector('input[data-key="exit.multiple"]')
  const rules = await api('/v1/admin/rules')
  const multiple = rules.rules.exit.multiple === '0.5' ? '0.6' : '0.5'
  await ctx.page.fill('input[data-key="exit.multiple"]', multiple)
  await ctx.page.click('[data-test="whatif-run"]')
  await ctx.page.waitForSelector('[data-test="whatif-aggregate"]', { timeout: 60_000 })
  const w = await api('/v1/admin/sim/whatif', { method: 'POST', body: { exit: { multiple } } })
  const exits = w.aggregate.find((f) => f.key === 'exits')
  const pool = w.aggregate.find((f) => f.key === 'pool')
  assert.notEqual(exits.change, '0', 'a lower exit multiple makes more exits in the demo')
  assert.equal(await ctx.page.getAttribute('[data-fig="exits"]', 'data-change'), exits.change)
  assert.equal(await ctx.page.getAttribute('[data-fig="pool"]', 'data-change'), pool.change)
  // the original side is the live economy
  const stats = await api('/v1/stats')
  assert.equal(pool.original, stats.pool)
  const first = w.members[0]
  assert.notEqual(first.difference, '0.00')
  const row = await ctx.page.textContent('[data-test="whatif-members"] .el-table__body tr')
  assert.ok(row.includes(first.member) && row.includes(shownMoney(first.difference)), row)
  assert.ok((await ctx.page.textContent('[data-test="better-worse"]')).includes(String(w.members_total)))
  await shot('simulator-whatif', 1280, 1920)
})
