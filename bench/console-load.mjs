// Times the console's dashboard on the demo economy, as a person meets it: a fresh browser
// (empty cache) opens /admin/, signs in with the demo account, and the clock stops when the
// dashboard's price, today's cards and the price chart's canvas are on the screen. Repeats a
// cold open N times and prints each and the median; then the same with a warm cache.
//
//   node bench/console-load.mjs [path/to/zengzhi] [runs]     (from the repository root;
//   needs web/node_modules and the built console embedded in the binary)
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createRequire } from 'node:module'

const require = createRequire(resolve('web/package.json'))
const { chromium } = require('playwright-core')
const BIN = resolve(process.argv[2] ?? 'target/release/zengzhi')
const RUNS = Number(process.argv[3] ?? 5)
const PASSWORD = 'bench-demo-password'

const port = await new Promise((ok) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port
    s.close(() => ok(p))
  })
})
const base = `http://127.0.0.1:${port}`
const dir = await mkdtemp(join(tmpdir(), 'zengzhi-bench-'))
const proc = spawn(BIN, ['serve', '--demo', '--listen', `127.0.0.1:${port}`, '--data-dir', dir], {
  env: { ...process.env, ZENGZHI_DEMO_PASSWORD: PASSWORD },
  stdio: 'ignore',
})
try {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/v1/stats`)).ok) break
    } catch {}
    if (i > 1200) throw new Error('the demo did not answer within 120 s')
    await new Promise((r) => setTimeout(r, 100))
  }
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] })
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const open = async (context) => {
    const page = await context.newPage()
    await page.goto(`${base}/admin/`)
    await page.fill('[data-test="username"]', 'admin')
    await page.fill('[data-test="password"]', PASSWORD)
    const t0 = performance.now()
    await page.click('[data-test="sign-in"]')
    await page.waitForSelector('[data-test="stat-price"] [data-test="value"]')
    await page.waitForSelector('[data-test="price-chart"] canvas')
    const ms = performance.now() - t0
    await page.close()
    return ms
  }
  // The whole visit from an empty cache: page load, sign-in and the dashboard's first answers.
  const cold = []
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const page = await context.newPage()
    const t0 = performance.now()
    await page.goto(`${base}/admin/`)
    await page.fill('[data-test="username"]', 'admin')
    await page.fill('[data-test="password"]', PASSWORD)
    await page.click('[data-test="sign-in"]')
    await page.waitForSelector('[data-test="stat-price"] [data-test="value"]')
    await page.waitForSelector('[data-test="price-chart"] canvas')
    cold.push(performance.now() - t0)
    await context.close()
  }
  console.log(`cold (empty cache, open + sign in + dashboard drawn): ${cold.map((x) => x.toFixed(0)).join(', ')} ms; median ${median(cold).toFixed(0)} ms`)
  // Sign-in to dashboard with the console's files cached (a returning operator).
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  await open(context)
  const warm = []
  for (let i = 0; i < RUNS; i++) warm.push(await open(context))
  console.log(`warm (cached files, sign in → dashboard drawn): ${warm.map((x) => x.toFixed(0)).join(', ')} ms; median ${median(warm).toFixed(0)} ms`)
  await browser.close()
} finally {
  proc.kill('SIGTERM')
  await new Promise((r) => proc.once('exit', r))
  await rm(dir, { recursive: true, force: true })
}
