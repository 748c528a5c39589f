// The end-to-end harness: one real `zengzhi serve --demo` per test file and headless Chromium.
//
//   import { demo } from './harness.mjs'
//   const ctx = demo()          // registers before/after; ctx.page, ctx.api … are ready in tests
//
// ZENGZHI_BIN        the zengzhi binary (default ../target/release/zengzhi)
// CHROMIUM           the browser (default /usr/bin/chromium; Debian's package)
// ZENGZHI_E2E_SAME_ORIGIN=1  the binary serves /admin/ itself; otherwise a small Node server
//                    serves dist/admin/ and proxies /v1 to it
// Screenshots of every page go to e2e-artifacts/.
import { after, before } from 'node:test'
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

const here = fileURLToPath(new URL('.', import.meta.url))
export const web = resolve(here, '..')
const BIN = resolve(web, process.env.ZENGZHI_BIN ?? '../target/release/zengzhi')
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'
const SAME_ORIGIN = process.env.ZENGZHI_E2E_SAME_ORIGIN === '1'
export const ARTIFACTS = join(web, 'e2e-artifacts')

/** "1234.5" → 123450n: the test's own reading of a money string. */
export const fen = (s) => {
  const [i, f = ''] = s.split('.')
  return BigInt(i + f.padEnd(2, '0'))
}
/** The console's way of showing a price: ¥, thousands separators, the API's 8 decimals. */
export const shownPrice = (s) => {
  const [i, f] = s.split('.')
  return '¥' + i.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + '.' + f
}

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

/**
 * Starts the demo server and a browser page before the file's tests and stops them after.
 * `extraArgs` go to `zengzhi serve`; `env` to its environment.
 */
export function demo({ extraArgs = [], env = {} } = {}) {
  const ctx = {
    /** The admin API key the server is started with. */
    TOKEN: randomBytes(16).toString('hex'),
    /** The demo's `admin` password (ZENGZHI_DEMO_PASSWORD). */
    DEMO_PASSWORD: `demo-${randomBytes(8).toString('hex')}`,
    serverLog: '',
    /** Console files the browser fetched, in order. */
    fetched: new Set(),
    proc: undefined,
    dataDir: undefined,
    apiBase: undefined,
    consoleBase: undefined,
    /** Console messages of the browser about blocked content (see `before`). */
    cspViolations: [],
    browser: undefined,
    page: undefined,
    staticServer: undefined,

    async api(path, { method = 'GET', body, token = ctx.TOKEN } = {}) {
      const res = await fetch(ctx.apiBase + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      })
      const text = await res.text()
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`)
      return JSON.parse(text)
    },

    /** Full-page screenshots at each width (1280 by default); fails when the page is wider than the window. */
    async shot(name, ...widths) {
      const page = ctx.page
      for (const width of widths.length ? widths : [1280]) {
        await page.setViewportSize({ width, height: width === 1280 ? 800 : width < 800 ? 812 : 1080 })
        await page.waitForTimeout(300)
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
        assert.ok(overflow <= 0, `${name} at ${width}px: ${overflow}px wider than the window`)
        await page.screenshot({ path: join(ARTIFACTS, `${name}-${width}.png`), fullPage: true })
      }
    },

    async goto(hash) {
      await ctx.page.goto(`${ctx.consoleBase}/admin/#${hash}`)
    },

    /** Back to the sign-in page in Chinese, signed out. */
    async freshSignIn() {
      const page = ctx.page
      await page.goto(`${ctx.consoleBase}/admin/`)
      await page.evaluate(() => {
        sessionStorage.clear()
        localStorage.clear()
      })
      await page.reload()
      await page.waitForSelector('[data-page="login"]')
    },

    async signInWithPassword(username, password) {
      const page = ctx.page
      await page.getByRole('tab', { name: '账号登录' }).click()
      await page.fill('[data-test="username"]', username)
      await page.fill('[data-test="password"]', password)
      await page.click('[data-test="sign-in"]')
    },

    /** Signs in afresh with a user name and password and waits for the dashboard. */
    async signInTo(username, password) {
      await ctx.freshSignIn()
      await ctx.signInWithPassword(username, password)
      await ctx.page.waitForSelector('[data-page="dashboard"]')
    },

    /** Signs in as the demo's superadmin and waits for the dashboard. */
    async signInAsAdmin() {
      await ctx.signInTo('admin', ctx.DEMO_PASSWORD)
    },

    /** A new operator account of a role (see userOf), signed in through the page. */
    async signInAs(role) {
      const user = await ctx.userOf(role)
      await ctx.signInTo(user.username, user.password)
      return user
    },

    /** A new operator account of a role, and its bearer token. */
    async userOf(role, username = `${role}-${randomBytes(3).toString('hex')}`) {
      const password = `pw-${randomBytes(8).toString('hex')}`
      await ctx.api('/v1/admin/users', { method: 'POST', body: { username, role, password } })
      const res = await fetch(`${ctx.apiBase}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password }),
      })
      assert.equal(res.status, 200)
      const { token } = await res.json()
      return { username, password, token }
    },
  }

  before(async () => {
    assert.ok(existsSync(BIN), `no zengzhi binary at ${BIN} (set ZENGZHI_BIN)`)
    assert.ok(existsSync(CHROMIUM), `no browser at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`)
    assert.ok(existsSync(join(web, 'dist/admin/index.html')) || SAME_ORIGIN, 'run `npm run build` first')
    await mkdir(ARTIFACTS, { recursive: true })
    ctx.dataDir = await mkdtemp(join(tmpdir(), 'zengzhi-e2e-'))
    const port = await freePort()
    ctx.apiBase = `http://127.0.0.1:${port}`
    const proc = spawn(BIN, ['serve', '--demo', '--listen', `127.0.0.1:${port}`, '--data-dir', ctx.dataDir, ...extraArgs], {
      env: { ...process.env, ZENGZHI_ADMIN_TOKEN: ctx.TOKEN, ZENGZHI_DEMO_PASSWORD: ctx.DEMO_PASSWORD, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    ctx.proc = proc
    proc.stdout.on('data', (d) => (ctx.serverLog += d))
    proc.stderr.on('data', (d) => (ctx.serverLog += d))
    const deadline = Date.now() + 120_000
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`zengzhi exited ${proc.exitCode}:\n${ctx.serverLog}`)
      try {
        if ((await fetch(`${ctx.apiBase}/healthz`)).ok) break
      } catch {}
      if (Date.now() > deadline) throw new Error(`zengzhi did not answer within 120 s:\n${ctx.serverLog}`)
      await new Promise((r) => setTimeout(r, 200))
    }
    // The demo is journaled before the server answers, but the query tables (orders, ledger,
    // per-store figures) catch up behind it: tests compare pages with the API only once they have.
    const gauge = (text, name) => Number(text.match(new RegExp(`^${name} (\\d+)`, 'm'))?.[1] ?? NaN)
    for (;;) {
      const m = await (await fetch(`${ctx.apiBase}/metrics`)).text()
      if (gauge(m, 'zengzhi_projection_watermark') >= gauge(m, 'zengzhi_journal_head')) break
      if (Date.now() > deadline) throw new Error(`the query tables did not catch up within 120 s:\n${m}`)
      await new Promise((r) => setTimeout(r, 200))
    }
    if (SAME_ORIGIN) ctx.consoleBase = ctx.apiBase
    else {
      ctx.staticServer = await startStaticServer({ distDir: join(web, 'dist/admin'), api: ctx.apiBase })
      ctx.consoleBase = ctx.staticServer.url
    }
    ctx.browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    })
    ctx.page = await ctx.browser.newPage({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' })
    ctx.page.setDefaultTimeout(10_000)
    ctx.page.on('request', (r) => {
      const u = new URL(r.url())
      if (u.pathname.startsWith('/admin/')) ctx.fetched.add(u.pathname)
    })
    ctx.page.on('pageerror', (e) => console.error('page error:', e.message))
    // Served by the binary, the pages carry its Content Security Policy: anything it blocks
    // (an inline script or style sheet, a remote or unexpected source) fails the suite.
    ctx.page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/.test(m.text())) ctx.cspViolations.push(m.text())
    })
  })

  after(async () => {
    await ctx.browser?.close()
    ctx.staticServer?.server.close()
    const proc = ctx.proc
    if (proc && proc.exitCode === null) {
      proc.kill('SIGTERM')
      await new Promise((r) => proc.once('exit', r))
    }
    if (ctx.dataDir) await rm(ctx.dataDir, { recursive: true, force: true })
    assert.deepEqual(ctx.cspViolations, [], 'the pages broke their Content Security Policy')
  })

  return ctx
}
