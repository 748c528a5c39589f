// End-to-end: the real `zengzhi serve --demo` and the built console in headless Chromium.
//
//   npm run build && npm run e2e
//
// ZENGZHI_BIN        the zengzhi binary (default ../target/release/zengzhi)
// CHROMIUM           the browser (default /usr/bin/chromium; Debian's package)
// ZENGZHI_E2E_SAME_ORIGIN=1  the binary serves /admin/ itself; otherwise a small Node server
//                    serves dist/admin/ and proxies /v1 to it
// Screenshots of every page go to e2e-artifacts/.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { startStaticServer } from './static-server.mjs'
import { loadDocument, render } from '../scripts/gen-api.mjs'
import { readFile } from 'node:fs/promises'
import { gzipSync } from 'node:zlib'

const here = fileURLToPath(new URL('.', import.meta.url))
const web = resolve(here, '..')
const BIN = resolve(web, process.env.ZENGZHI_BIN ?? '../target/release/zengzhi')
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'
const SAME_ORIGIN = process.env.ZENGZHI_E2E_SAME_ORIGIN === '1'
const ARTIFACTS = join(web, 'e2e-artifacts')
const TOKEN = randomBytes(16).toString('hex')
/** The demo's `admin` password (ZENGZHI_DEMO_PASSWORD). */
const DEMO_PASSWORD = `demo-${randomBytes(8).toString('hex')}`

let proc, dataDir, apiBase, consoleBase, staticServer, browser, page
let serverLog = ''
/** Console files the browser fetched, in order. */
const fetched = new Set()

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer()
    s.once('error', fail)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => ok(port))
    })
  })
}

async function api(path, { method = 'GET', body, token = TOKEN } = {}) {
  const res = await fetch(apiBase + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`)
  return JSON.parse(text)
}

/** "1234.5" → 123450n: the test's own reading of a money string. */
const fen = (s) => {
  const [i, f = ''] = s.split('.')
  return BigInt(i + f.padEnd(2, '0'))
}
/** The console's way of showing a price: ¥, thousands separators, the API's 8 decimals. */
const shownPrice = (s) => {
  const [i, f] = s.split('.')
  return '¥' + i.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + '.' + f
}

async function shot(name, width = 1280) {
  await page.setViewportSize({ width, height: width === 1280 ? 800 : 1080 })
  await page.waitForTimeout(300)
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  assert.ok(overflow <= 0, `${name} at ${width}px: ${overflow}px wider than the window`)
  await page.screenshot({ path: join(ARTIFACTS, `${name}-${width}.png`), fullPage: true })
}

async function goto(hash) {
  await page.goto(`${consoleBase}/admin/#${hash}`)
}

before(async () => {
  assert.ok(existsSync(BIN), `no zengzhi binary at ${BIN} (set ZENGZHI_BIN)`)
  assert.ok(existsSync(CHROMIUM), `no browser at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`)
  assert.ok(existsSync(join(web, 'dist/admin/index.html')) || SAME_ORIGIN, 'run `npm run build` first')
  await mkdir(ARTIFACTS, { recursive: true })
  dataDir = await mkdtemp(join(tmpdir(), 'zengzhi-e2e-'))
  const port = await freePort()
  apiBase = `http://127.0.0.1:${port}`
  proc = spawn(BIN, ['serve', '--demo', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], {
    env: { ...process.env, ZENGZHI_ADMIN_TOKEN: TOKEN, ZENGZHI_DEMO_PASSWORD: DEMO_PASSWORD },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  proc.stdout.on('data', (d) => (serverLog += d))
  proc.stderr.on('data', (d) => (serverLog += d))
  const deadline = Date.now() + 60_000
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`zengzhi exited ${proc.exitCode}:\n${serverLog}`)
    try {
      if ((await fetch(`${apiBase}/healthz`)).ok) break
    } catch {}
    if (Date.now() > deadline) throw new Error(`zengzhi did not answer within 60 s:\n${serverLog}`)
    await new Promise((r) => setTimeout(r, 200))
  }
  if (SAME_ORIGIN) consoleBase = apiBase
  else {
    staticServer = await startStaticServer({ distDir: join(web, 'dist/admin'), api: apiBase })
    consoleBase = staticServer.url
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] })
  page = await browser.newPage({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' })
  page.setDefaultTimeout(10_000)
  page.on('request', (r) => {
    const u = new URL(r.url())
    if (u.pathname.startsWith('/admin/')) fetched.add(u.pathname)
  })
  page.on('pageerror', (e) => console.error('page error:', e.message))
})

after(async () => {
  await browser?.close()
  staticServer?.server.close()
  if (proc && proc.exitCode === null) {
    proc.kill('SIGTERM')
    await new Promise((r) => proc.once('exit', r))
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

test('the committed API types match the server’s OpenAPI document', async () => {
  const { ts } = await render(await loadDocument(`${apiBase}/v1/openapi.json`))
  const committed = await readFile(join(web, 'src/shared/api/schema.ts'), 'utf8')
  assert.equal(committed, ts, 'the API changed: run `npm run gen:api -- <server>/v1/openapi.json` and commit')
})

test('sign-in page, then a wrong key is refused with the server’s message', async () => {
  await page.goto(`${consoleBase}/admin/`)
  await page.waitForSelector('[data-page="login"]')
  assert.match(await page.textContent('h1'), /登录运营后台/)
  await shot('login')
  await page.getByRole('tab', { name: 'API 密钥' }).click()
  await page.fill('[data-test="api-key"]', 'not-a-key')
  await page.click('[data-test="sign-in"]')
  const err = await page.waitForSelector('[data-test="login-error"]')
  assert.match(await err.textContent(), /密钥无效/)
})

test('signing in with the API key opens the dashboard; its price is the server’s', async () => {
  await page.fill('[data-test="api-key"]', TOKEN)
  await page.click('[data-test="sign-in"]')
  await page.waitForSelector('[data-page="dashboard"] [data-test="stat-price"] [data-test="value"]')
  const stats = await api('/v1/stats')
  const shown = (await page.textContent('[data-test="stat-price"] [data-test="value"]')).trim()
  assert.equal(shown, shownPrice(stats.price))
  const pool = await page.textContent('[data-test="stat-pool"]')
  assert.ok(pool.includes('¥'), pool)
  // first load of the console, login page + dashboard, gzipped: at most 800 KB
  let gz = 0
  for (const p of fetched) {
    gz += gzipSync(Buffer.from(await (await fetch(consoleBase + p)).arrayBuffer())).length
  }
  console.log(`first load (sign-in + dashboard): ${fetched.size} files, ${(gz / 1024).toFixed(1)} KB gzipped`)
  assert.ok(gz <= 800 * 1024, `first load is ${gz} bytes gzipped`)
  // the token is kept for this tab only
  const stored = await page.evaluate(() => [sessionStorage.getItem('zengzhi.admin.session'), JSON.stringify(localStorage)])
  assert.ok(stored[0]?.includes('"token"'))
  assert.ok(!stored[1].includes(TOKEN))
})

test('the price chart is drawn (the canvas is not blank) for each interval', async () => {
  for (const label of ['日', '小时']) {
    await page.getByText(label, { exact: true }).click()
    await page.waitForSelector('[data-test="price-chart"] canvas')
    await page.waitForTimeout(500)
    const inked = await page.evaluate(() => {
      const c = document.querySelector('[data-test="price-chart"] canvas')
      const ctx = c.getContext('2d')
      const { data } = ctx.getImageData(0, 0, c.width, c.height)
      let n = 0
      for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0 && (data[i] < 240 || data[i + 1] < 240 || data[i + 2] < 240)) n++
      return n
    })
    assert.ok(inked > 2000, `only ${inked} inked pixels at interval ${label}`)
  }
  const risk = await page.textContent('[data-test="risk-payout"]')
  assert.match(risk, /^¥[\d,]+\.\d{2}$/)
  await shot('dashboard')
  await shot('dashboard', 1920)
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
  await page.waitForSelector('[data-test="withdrawals-table"] .el-table__body tr')
  assert.equal(await page.locator('[data-test="withdrawals-table"] .el-table__body tr').count(), 4)
  await shot('withdrawals')

  // one, through its confirmation
  await page.locator('[data-test="pay"]').first().click()
  await page.locator('.el-message-box').getByRole('button', { name: '打款' }).click()
  await page.waitForSelector('[data-test="row-result"]')
  // two more, selected, in one batch
  const boxes = page.locator('[data-test="withdrawals-table"] .el-table__body tr .el-checkbox')
  await boxes.nth(1).click()
  await boxes.nth(2).click()
  await page.click('[data-test="batch-pay"]')
  await page.locator('.el-message-box').getByRole('button', { name: '确认' }).click()
  await page.waitForFunction(() => document.querySelectorAll('[data-test="row-result"]').length === 3)
  const results = (await page.locator('[data-test="row-result"]').allTextContents()).map((s) => s.trim())
  assert.deepEqual(results, ['已打款', '已打款', '已打款'])
  await shot('withdrawals-paid')

  const paid = await api('/v1/admin/withdrawals?status=paid')
  const pending = await api('/v1/admin/withdrawals?status=pending')
  assert.equal(paid.items.length, 3)
  assert.equal(pending.items.length, 1)
  assert.equal(new Set(paid.items.map((w) => w.seq)).size, 3, 'each paid once, by its own journal entry')

  // the paid tab lists them
  await page.getByRole('tab', { name: '已打款' }).click()
  await page.waitForFunction(() => document.querySelectorAll('[data-test="withdrawals-table"] .el-table__body tr').length === 3)
})

test('rules: every key has a labelled field; a bad value shows the server’s problem; a change is diffed, confirmed, applied', async () => {
  await goto('/rules')
  await page.waitForSelector('[data-rule]')
  const { rules } = await api('/v1/admin/rules')
  for (const [section, keys] of Object.entries(rules)) {
    for (const key of Object.keys(keys)) {
      const field = page.locator(`[data-rule="${section}.${key}"]`)
      assert.equal(await field.count(), 1, `no field for ${section}.${key}`)
      assert.match(await field.locator('.rule-label').textContent(), /[\u4e00-\u9fff]/, `${section}.${key} has a Chinese label`)
    }
  }
  await shot('rules')

  // pool_share + distribution_share > 1: the form is fine, the server says why not
  await page.fill('[data-rule="commission.pool_share"] input', '0.95')
  await page.click('[data-test="review"]')
  await page.waitForSelector('[data-test="diff"]')
  await page.click('[data-test="apply"]')
  const problems = await page.waitForSelector('[data-test="problems"]')
  assert.match(await problems.textContent(), /之和超过 1/)
  await page.getByRole('button', { name: '还原' }).click()

  // exit.multiple 2: applied with the compliance warning
  await page.fill('[data-rule="exit.multiple"] input', '2')
  await page.click('[data-test="review"]')
  const diff = await page.waitForSelector('[data-test="diff"]')
  const diffText = await diff.textContent()
  assert.match(diffText, /封顶倍数/)
  assert.match(diffText, /1\.2 ×/)
  await shot('rules-diff')
  await page.click('[data-test="apply"]')
  await page.waitForFunction(() => document.querySelector('[data-test="warnings"]')?.textContent.includes('非法集资'))
  assert.equal((await api('/v1/admin/rules')).rules.exit.multiple, '2')
})

test('operations: an injection is confirmed and reaches the pool exactly', async () => {
  await goto('/operations')
  await page.waitForSelector('[data-test="op-inject"]')
  const before = await api('/v1/stats')
  await page.fill('[data-test="op-inject"] input', '123.45')
  await page.locator('[data-test="op-inject"]').getByRole('button', { name: '融资注入' }).click()
  await page.locator('.el-message-box').getByRole('button', { name: '确认' }).click()
  await page.waitForSelector('[data-test="op-inject"] .el-alert--success')
  const afterStats = await api('/v1/stats')
  assert.equal(fen(afterStats.pool) - fen(before.pool), 12345n)
  // ending a campaign when none runs: the server's message, in Chinese
  await page.locator('[data-test="op-campaign"]').getByRole('button', { name: '结束当前活动' }).click()
  await page.locator('.el-message-box').getByRole('button', { name: '确认' }).click()
  const err = await page.waitForSelector('[data-test="op-campaign"] .el-alert--error')
  assert.match(await err.textContent(), /没有进行中的补贴活动/)
  await shot('operations')
})

test('reconciliation balances; coming-soon pages say so', async () => {
  await goto('/finance')
  await page.waitForSelector('[data-test="balanced"]')
  const proof = await api('/v1/proof')
  assert.equal((await page.textContent('[data-test="journal-length"]')).replace(/,/g, ''), String(proof.journal_length))
  await shot('finance')
  await shot('finance', 1920)
  for (const s of ['members', 'stores', 'orders', 'system']) {
    await goto(`/${s}`)
    await page.waitForSelector('[data-page="coming-soon"]')
    assert.match(await page.textContent('[data-page="coming-soon"]'), /即将上线/)
  }
  await shot('coming-soon')
})

test('English is one switch away and is remembered', async () => {
  await goto('/')
  await page.click('[data-test="lang"]')
  await page.getByRole('option', { name: 'English' }).click()
  await page.waitForSelector('text=Dashboard')
  await page.reload()
  await page.waitForSelector('[data-page="dashboard"] [data-test="stat-price"] [data-test="value"]')
  assert.match(await page.textContent('aside'), /Withdrawals/)
  assert.match(await page.textContent('[data-test="stat-price"]'), /Point price/)
  await shot('dashboard-en')
  await goto('/withdrawals')
  await page.waitForSelector('[data-page="withdrawals"]')
  await shot('withdrawals-en')
  await goto('/rules')
  await page.waitForSelector('[data-rule]')
  await shot('rules-en')
})

test('a token the server refuses sends the page back to sign-in with a message', async () => {
  await page.evaluate(() => {
    const s = JSON.parse(sessionStorage.getItem('zengzhi.admin.session'))
    s.token = 'revoked'
    sessionStorage.setItem('zengzhi.admin.session', JSON.stringify(s))
  })
  await goto('/')
  await page.reload()
  await page.waitForSelector('[data-page="login"]')
  assert.match(await page.textContent('[data-page="login"]'), /session has ended/)
  assert.equal(await page.evaluate(() => sessionStorage.getItem('zengzhi.admin.session')), null)
  await shot('login-expired-en')
})

/** Back to the sign-in page in Chinese, signed out. */
async function freshSignIn() {
  await page.goto(`${consoleBase}/admin/`)
  await page.evaluate(() => {
    sessionStorage.clear()
    localStorage.clear()
  })
  await page.reload()
  await page.waitForSelector('[data-page="login"]')
}

async function signInWithPassword(username, password) {
  await page.getByRole('tab', { name: '账号登录' }).click()
  await page.fill('[data-test="username"]', username)
  await page.fill('[data-test="password"]', password)
  await page.click('[data-test="sign-in"]')
}

test('the demo start printed the admin account once; a wrong password is refused with the message', async () => {
  assert.match(serverLog, new RegExp(`用户 user: admin  密码 password: ${DEMO_PASSWORD}`))
  await freshSignIn()
  await signInWithPassword('admin', 'not the password')
  const err = await page.waitForSelector('[data-test="login-error"]')
  assert.match(await err.textContent(), /用户名或密码错误/)
  await shot('login-wrong-password')
})

test('admin signs in with the demo password through the account tab', async () => {
  await signInWithPassword('admin', DEMO_PASSWORD)
  await page.waitForSelector('[data-page="dashboard"] [data-test="stat-price"] [data-test="value"]')
  const kept = await page.evaluate(() => sessionStorage.getItem('zengzhi.admin.session'))
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
  await page.waitForSelector('[data-page="login"]', { state: 'detached' })
  await goto('/withdrawals')
  await page.waitForSelector('[data-test="withdrawals-table"] [data-test="pay"]')
  assert.ok((await page.locator('[data-test="pay"]').count()) >= 1)
  await shot('withdrawals-finance')

  const login = await fetch(`${apiBase}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'clerk', password }),
  })
  assert.equal(login.status, 200)
  const { token, user } = await login.json()
  assert.equal(user.role, 'operator')
  const pay = await fetch(`${apiBase}/v1/admin/withdrawals/${id}/pay`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: '{}',
  })
  assert.equal(pay.status, 403)
  assert.equal((await pay.json()).error, 'forbidden')
  assert.equal((await api(`/v1/admin/withdrawals/${id}`)).status, 'pending', 'the refused request changed nothing')
})
