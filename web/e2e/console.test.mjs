// End-to-end: the real `zengzhi serve --demo` and the built console in headless Chromium
// (the harness in harness.mjs starts both).
//
//   npm run build && npm run e2e
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import { gzipSync } from 'node:zlib'
import { demo, fen, shownPrice, web } from './harness.mjs'
import { loadDocument, render } from '../scripts/gen-api.mjs'

const ctx = demo()
const { api, shot, goto, freshSignIn, signInWithPassword } = ctx
const TOKEN = ctx.TOKEN
const DEMO_PASSWORD = ctx.DEMO_PASSWORD

test('the committed API types match the server’s OpenAPI document', async () => {
  const { ts } = await render(await loadDocument(`${ctx.apiBase}/v1/openapi.json`))
  const committed = await readFile(join(web, 'src/shared/api/schema.ts'), 'utf8')
  assert.equal(committed, ts, 'the API changed: run `npm run gen:api -- <server>/v1/openapi.json` and commit')
})

test('sign-in page, then a wrong key is refused with the server’s message', async () => {
  await ctx.page.goto(`${ctx.consoleBase}/admin/`)
  await ctx.page.waitForSelector('[data-page="login"]')
  assert.match(await ctx.page.textContent('h1'), /登录运营后台/)
  await shot('login')
  await ctx.page.getByRole('tab', { name: 'API 密钥' }).click()
  await ctx.page.fill('[data-test="api-key"]', 'not-a-key')
  await ctx.page.click('[data-test="sign-in"]')
  const err = await ctx.page.waitForSelector('[data-test="login-error"]')
  assert.match(await err.textContent(), /密钥无效/)
})

test('signing in with the API key opens the dashboard; its price is the server’s', async () => {
  await ctx.page.fill('[data-test="api-key"]', TOKEN)
  await ctx.page.click('[data-test="sign-in"]')
  await ctx.page.waitForSelector('[data-page="dashboard"] [data-test="stat-price"] [data-test="value"]')
  const stats = await api('/v1/stats')
  const shown = (await ctx.page.textContent('[data-test="stat-price"] [data-test="value"]')).trim()
  assert.equal(shown, shownPrice(stats.price))
  const pool = await ctx.page.textContent('[data-test="stat-pool"]')
  assert.ok(pool.includes('¥'), pool)
  // first load of the console, login page + dashboard, gzipped: at most 800 KB
  let gz = 0
  for (const p of ctx.fetched) {
    gz += gzipSync(Buffer.from(await (await fetch(ctx.consoleBase + p)).arrayBuffer())).length
  }
  console.log(`first load (sign-in + dashboard): ${ctx.fetched.size} files, ${(gz / 1024).toFixed(1)} KB gzipped`)
  assert.ok(gz <= 800 * 1024, `first load is ${gz} bytes gzipped`)
  // the token is kept for this tab only
  const stored = await ctx.page.evaluate(() => [sessionStorage.getItem('zengzhi.admin.session'), JSON.stringify(localStorage)])
  assert.ok(stored[0]?.includes('"token"'))
  assert.ok(!stored[1].includes(TOKEN))
})

test('the price chart is drawn (the canvas is not blank) for each interval', async () => {
  for (const label of ['日', '小时']) {
    await ctx.page.getByText(label, { exact: true }).click()
    await ctx.page.waitForSelector('[data-test="price-chart"] canvas')
    await ctx.page.waitForTimeout(500)
    const inked = await ctx.page.evaluate(() => {
      const c = document.querySelector('[data-test="price-chart"] canvas')
      const ctx = c.getContext('2d')
      const { data } = ctx.getImageData(0, 0, c.width, c.height)
      let n = 0
      for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0 && (data[i] < 240 || data[i + 1] < 240 || data[i + 2] < 240)) n++
      return n
    })
    assert.ok(inked > 2000, `only ${inked} inked pixels at interval ${label}`)
  }
  const risk = await ctx.page.textContent('[data-test="risk-payout"]')
  assert.match(risk, /^¥[\d,]+\.\d{2}$/)
  await shot('dashboard', 1280, 1920)
})

test('withdrawals: pay one, batch-pay two, each once; the server agrees', async () => {
  // four members with cash ask to withdraw ¥10.00 each
  const state = await api('/v1/admin/state')
  const rich = Object.entries(state.members)
    .filter(([, m]) => fen(m.cash) >= 1000n)
    .slice(0, 4)
    .map(([id]) => id)
  assert.equal(rich.length, 4, 'the demo has members with cash')
  for (const m of rich) {
    const { token } = await api(`/v1/members/${m}/token`, { method: 'POST' })
    await api('/v1/me/withdraw', { method: 'POST', body: { amount: '10.00' }, token })
  }
  await goto('/withdrawals')
  await ctx.page.waitForSelector('[data-test="withdrawals-table"] .el-table__body tr')
  assert.equal(await ctx.page.locator('[data-test="withdrawals-table"] .el-table__body tr').count(), 4)
  await shot('withdrawals')

  // one, through its confirmation
  await ctx.page.locator('[data-test="pay"]').first().click()
  await ctx.page.locator('.el-message-box').getByRole('button', { name: '打款' }).click()
  await ctx.page.waitForSelector('[data-test="row-result"]')
  // two more, selected, in one batch
  const boxes = ctx.page.locator('[data-test="withdrawals-table"] .el-table__body tr .el-checkbox')
  await boxes.nth(1).click()
  await boxes.nth(2).click()
  await ctx.page.click('[data-test="batch-pay"]')
  await ctx.page.locator('.el-message-box').getByRole('button', { name: '确认' }).click()
  await ctx.page.waitForFunction(() => document.querySelectorAll('[data-test="row-result"]').length === 3)
  const results = (await ctx.page.locator('[data-test="row-result"]').allTextContents()).map((s) => s.trim())
  assert.deepEqual(results, ['已打款', '已打款', '已打款'])
  await shot('withdrawals-paid')

  const paid = await api('/v1/admin/withdrawals?status=paid')
  const pending = await api('/v1/admin/withdrawals?status=pending')
  assert.equal(paid.items.length, 3)
  assert.equal(pending.items.length, 1)
  assert.equal(new Set(paid.items.map((w) => w.seq)).size, 3, 'each paid once, by its own journal entry')

  // the paid tab lists them
  await ctx.page.getByRole('tab', { name: '已打款' }).click()
  await ctx.page.waitForFunction(() => document.querySelectorAll('[data-test="withdrawals-table"] .el-table__body tr').length === 3)
})

test('rules: every key has a labelled field; a bad value shows the server’s problem; a change is diffed, confirmed, applied', async () => {
  await goto('/rules')
  await ctx.page.waitForSelector('[data-rule]')
  const { rules } = await api('/v1/admin/rules')
  for (const [section, keys] of Object.entries(rules)) {
    for (const key of Object.keys(keys)) {
      const field = ctx.page.locator(`[data-rule="${section}.${key}"]`)
      assert.equal(await field.count(), 1, `no field for ${section}.${key}`)
      assert.match(await field.locator('.rule-label').textContent(), /[\u4e00-\u9fff]/, `${section}.${key} has a Chinese label`)
    }
  }
  await shot('rules')

  // pool_share + distribution_share > 1: the form is fine, the server says why not
  await ctx.page.fill('[data-rule="commission.pool_share"] input', '0.95')
  await ctx.page.click('[data-test="review"]')
  await ctx.page.waitForSelector('[data-test="diff"]')
  await ctx.page.click('[data-test="apply"]')
  const problems = await ctx.page.waitForSelector('[data-test="problems"]')
  assert.match(await problems.textContent(), /之和超过 1/)
  await ctx.page.getByRole('button', { name: '还原' }).click()

  // exit.multiple 2: applied with the compliance warning
  await ctx.page.fill('[data-rule="exit.multiple"] input', '2')
  await ctx.page.click('[data-test="review"]')
  const diff = await ctx.page.waitForSelector('[data-test="diff"]')
  const diffText = await diff.textContent()
  assert.match(diffText, /封顶倍数/)
  assert.match(diffText, /1\.2 ×/)
  await shot('rules-diff')
  await ctx.page.click('[data-test="apply"]')
  await ctx.page.waitForFunction(() => document.querySelector('[data-test="warnings"]')?.textContent.includes('非法集资'))
  assert.equal((await api('/v1/admin/rules')).rules.exit.multiple, '2')
})

test('operations: an injection is confirmed and reaches the pool exactly', async () => {
  await goto('/operations')
  await ctx.page.waitForSelector('[data-test="op-inject"]')
  const before = await api('/v1/stats')
  await ctx.page.fill('[data-test="op-inject"] input', '123.45')
  await ctx.page.locator('[data-test="op-inject"]').getByRole('button', { name: '融资注入' }).click()
  await ctx.page.locator('.el-message-box').getByRole('button', { name: '确认' }).click()
  await ctx.page.waitForSelector('[data-test="op-inject"] .el-alert--success')
  const afterStats = await api('/v1/stats')
  assert.equal(fen(afterStats.pool) - fen(before.pool), 12345n)
  // ending a campaign when none runs: the server's message, in Chinese
  await ctx.page.locator('[data-test="op-campaign"]').getByRole('button', { name: '结束当前活动' }).click()
  await ctx.page.locator('.el-message-box').getByRole('button', { name: '确认' }).click()
  const err = await ctx.page.waitForSelector('[data-test="op-campaign"] .el-alert--error')
  assert.match(await err.textContent(), /没有进行中的补贴活动/)
  await shot('operations')
})

test('reconciliation balances', async () => {
  await goto('/finance')
  await ctx.page.waitForSelector('[data-test="balanced"]')
  const proof = await api('/v1/proof')
  assert.equal((await ctx.page.textContent('[data-test="journal-length"]')).replace(/,/g, ''), String(proof.journal_length))
  await shot('finance', 1280, 1920)
})

test('English is one switch away and is remembered', async () => {
  await goto('/')
  await ctx.page.click('[data-test="lang"]')
  await ctx.page.getByRole('option', { name: 'English' }).click()
  await ctx.page.waitForSelector('text=Dashboard')
  await ctx.page.reload()
  await ctx.page.waitForSelector('[data-page="dashboard"] [data-test="stat-price"] [data-test="value"]')
  assert.match(await ctx.page.textContent('aside'), /Withdrawals/)
  assert.match(await ctx.page.textContent('[data-test="stat-price"]'), /Point price/)
  await shot('dashboard-en')
  await goto('/withdrawals')
  await ctx.page.waitForSelector('[data-page="withdrawals"]')
  await shot('withdrawals-en')
  await goto('/rules')
  await ctx.page.waitForSelector('[data-rule]')
  await shot('rules-en')
})

test('a token the server refuses sends the page back to sign-in with a message', async () => {
  await ctx.page.evaluate(() => {
    const s = JSON.parse(sessionStorage.getItem('zengzhi.admin.session'))
    s.token = 'revoked'
    sessionStorage.setItem('zengzhi.admin.session', JSON.stringify(s))
  })
  await goto('/')
  await ctx.page.reload()
  await ctx.page.waitForSelector('[data-page="login"]')
  assert.match(await ctx.page.textContent('[data-page="login"]'), /session has ended/)
  assert.equal(await ctx.page.evaluate(() => sessionStorage.getItem('zengzhi.admin.session')), null)
  await shot('login-expired-en')
})

test('the demo start printed the admin account once; a wrong password is refused with the message', async () => {
  assert.match(ctx.serverLog, new RegExp(`用户 user: admin  密码 password: ${DEMO_PASSWORD}`))
  await freshSignIn()
  await signInWithPassword('admin', 'not the password')
  const err = await ctx.page.waitForSelector('[data-test="login-error"]')
  assert.match(await err.textContent(), /用户名或密码错误/)
  await shot('login-wrong-password')
})

test('admin signs in with the demo password through the account tab', async () => {
  await signInWithPassword('admin', DEMO_PASSWORD)
  await ctx.page.waitForSelector('[data-page="dashboard"] [data-test="stat-price"] [data-test="value"]')
  const kept = await ctx.page.evaluate(() => sessionStorage.getItem('zengzhi.admin.session'))
  assert.ok(kept?.includes('"token":"zs_'), 'a session token, kept for this tab')
  assert.ok(!kept.includes(DEMO_PASSWORD), 'never the password')
  const { token } = JSON.parse(kept)
  assert.deepEqual(await api('/v1/auth/me', { token }), { username: 'admin', role: 'superadmin' })
})

test('finance sees the approve button; an operator is refused paying by the server', async () => {
  const password = `pw-${randomBytes(8).toString('hex')}`
  await api('/v1/admin/users', { method: 'POST', body: { username: 'cashier', role: 'finance', password } })
  await api('/v1/admin/users', { method: 'POST', body: { username: 'clerk', role: 'operator', password } })
  const pending = await api('/v1/admin/withdrawals?status=pending')
  assert.ok(pending.items.length >= 1, 'a withdrawal is still pending')
  const id = pending.items[0].id

  await freshSignIn()
  await signInWithPassword('cashier', password)
  await ctx.page.waitForSelector('[data-page="login"]', { state: 'detached' })
  await goto('/withdrawals')
  await ctx.page.waitForSelector('[data-test="withdrawals-table"] [data-test="pay"]')
  assert.ok((await ctx.page.locator('[data-test="pay"]').count()) >= 1)
  await shot('withdrawals-finance')

  const login = await fetch(`${ctx.apiBase}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'clerk', password }),
  })
  assert.equal(login.status, 200)
  const { token, user } = await login.json()
  assert.equal(user.role, 'operator')
  const pay = await fetch(`${ctx.apiBase}/v1/admin/withdrawals/${id}/pay`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: '{}',
  })
  assert.equal(pay.status, 403)
  assert.equal((await pay.json()).error, 'forbidden')
  assert.equal((await api(`/v1/admin/withdrawals/${id}`)).status, 'pending', 'the refused request changed nothing')
})
