// End-to-end: the member app (/m/) and the /join landing page on a 375 × 812 phone, against
// the real `zengzhi serve --demo` (started by harness.mjs) with a JWT secret configured.
//
//   npm run build && node --test e2e/mobile.test.mjs
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac, randomBytes } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import jsQR from 'jsqr'
import { demo, fen } from './harness.mjs'
import { shownMoney, shownPoints } from './readings.mjs'

const JWT_SECRET = `e2e-${randomBytes(16).toString('hex')}`
const ctx = demo({ env: { ZENGZHI_MEMBER_JWT_SECRET: JWT_SECRET } })
const { api, shot } = ctx

/** "1234.5" (8 decimals max) → 123450000000n point units. */
const units = (s) => {
  const [i, f = ''] = s.split('.')
  return BigInt(i + f.padEnd(8, '0'))
}
const b64url = (x) => Buffer.from(x).toString('base64url')
function jwt(claims, secret) {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))
  const body = b64url(JSON.stringify(claims))
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url')
  return `${head}.${body}.${sig}`
}

let member // { member, token }
const fetched = new Set()

async function open(token, hash = '/') {
  const page = ctx.page
  // A fresh document each time (a change of the fragment alone would not load the page again).
  await page.goto('about:blank')
  await page.goto(`${ctx.consoleBase}/m/#token=${encodeURIComponent(token)}`)
  if (hash !== '/') await page.evaluate((h) => (location.hash = h), hash)
}
const text = async (sel) => (await ctx.page.textContent(sel)).trim()
const me = (token = member.token) => api('/v1/me', { token })

test('a member arrives with a token in the fragment: points, value, cap progress', async () => {
  const page = ctx.page
  page.on('request', (r) => {
    const u = new URL(r.url())
    if (u.pathname.startsWith('/m/')) fetched.add(u.pathname)
  })
  const list = await api('/v1/demo/members', { token: undefined })
  member = list.find((m) => fen(m.cash) >= 10000n) ?? list[0]
  await page.setViewportSize({ width: 375, height: 812 })
  await open(member.token)
  await page.waitForSelector('[data-page="home"] [data-test="points"]')
  // The token left the address bar and stays for this tab only.
  assert.ok(!page.url().includes('token'), page.url())
  assert.equal(await page.evaluate(() => sessionStorage.getItem('zengzhi.member.token')), member.token)
  const m = await me()
  assert.equal(await text('[data-test="points"]'), shownPoints(m.points))
  assert.equal(await text('[data-test="value-now"]'), shownMoney(m.value_now))
  // Cap progress: (realised + value now) / cap, in tenths of a percent, floored.
  const permille = ((fen(m.cycle_realized) + fen(m.value_now)) * 1000n) / fen(m.cap.cap)
  const clamped = permille > 1000n ? 1000n : permille
  assert.equal(await text('[data-test="cap-progress"]'), `${clamped / 10n}.${clamped % 10n}%`)
  assert.equal(await text('[data-test="exit-now"]'), shownMoney(m.cap.exit_would_pay_now))
  await page.waitForSelector('[data-test="sparkline"] polyline')
  // First load of the member app, gzipped.
  let gz = 0
  for (const p of fetched) gz += gzipSync(Buffer.from(await (await fetch(ctx.consoleBase + p)).arrayBuffer())).length
  console.log(`member app first load: ${fetched.size} files, ${(gz / 1024).toFixed(1)} KB gzipped`)
  assert.ok(gz <= 250 * 1024, `first load is ${gz} bytes gzipped`)
  await shot('m-home', 375, 320)
})

test('the English switch', async () => {
  const page = ctx.page
  await page.click('[data-test="lang"]')
  await page.waitForSelector('text=My points')
  await shot('m-home-en', 375)
  await page.click('[data-test="lang"]')
  await page.waitForSelector('text=我的积分')
})

test('sell: preview, confirmation, then the new balance and a higher price', async () => {
  const page = ctx.page
  const before = await me()
  await open(member.token, '/sell')
  await page.waitForSelector('[data-test="sell-amount"] input')
  await page.fill('[data-test="sell-amount"] input', 'abc')
  await page.click('[data-test="sell-preview"]')
  assert.match(await text('[data-test="sell-problem"]'), /大于 0/)
  await page.fill('[data-test="sell-amount"] input', '1')
  await page.click('[data-test="sell-preview"]')
  await page.waitForSelector('[data-test="preview"]')
  const preview = await api('/v1/me/sell/preview', { method: 'POST', body: { points: '1' }, token: member.token })
  assert.equal(fen(preview.kept_in_pool) + fen(preview.payout), fen(preview.gross))
  assert.ok((await text('[data-test="preview-payout"]')).includes(shownMoney(preview.payout)))
  assert.ok((await text('[data-test="preview-gross"]')).includes(shownMoney(preview.gross)))
  await shot('m-sell', 375, 320)
  await page.click('[data-test="sell-open"]')
  await page.waitForSelector('[data-test="confirm-sheet"]')
  await shot('m-sell-confirm', 375)
  await page.click('[data-test="sell-confirm"]')
  await page.waitForSelector('[data-test="sold"]')
  const after = await me()
  assert.equal(units(after.points), units(before.points) - 100000000n, 'one point fewer')
  assert.equal(fen(after.cash), fen(before.cash) + fen(preview.payout), 'the payout in cash')
  assert.ok(units(after.price) > units(before.price), `the price rose: ${before.price} → ${after.price}`)
  assert.ok((await text('[data-test="new-points"]')).includes(shownPoints(after.points)))
  assert.ok((await text('[data-test="new-price"]')).includes(after.price.slice(0, after.price.indexOf('.') + 5)))
  await shot('m-sold', 375)
})

test('withdraw: a request shows as 待审核, its amount reserved', async () => {
  const page = ctx.page
  const rules = await api('/v1/me/rules', { token: member.token })
  const before = await me()
  // The minimum, or ¥1.00 when there is none.
  const amount = fen(rules.withdraw_min) > 0n ? rules.withdraw_min : '1.00'
  assert.ok(fen(before.withdrawable) >= fen(amount), `the demo member can withdraw ${amount}: ${before.withdrawable}`)
  await open(member.token, '/withdraw')
  await page.waitForSelector('[data-test="withdraw-amount"] input')
  assert.equal(await text('[data-test="withdrawable"]'), shownMoney(before.withdrawable))
  await page.fill('[data-test="withdraw-amount"] input', amount)
  await page.click('[data-test="withdraw-submit"]')
  await page.waitForSelector('[data-test="withdrawal-pending"], [data-test="withdraw-problem"]')
  assert.equal(await page.locator('[data-test="withdraw-problem"]').count(), 0, await page.textContent('body'))
  assert.match(await text('[data-test="withdrawal-pending"] [data-test="withdrawal-status"]'), /待审核/)
  const after = await me()
  assert.equal(fen(after.withdrawable), fen(before.withdrawable) - fen(amount))
  const mine = await api('/v1/me/withdrawals', { token: member.token })
  assert.ok(mine.items.some((w) => w.status === 'pending' && fen(w.amount) === fen(amount)))
  await shot('m-withdraw', 375, 320)
})

test('invite: the QR code decodes to my referral link; referrals listed', async () => {
  const page = ctx.page
  await open(member.token, '/invite')
  await page.waitForSelector('[data-test="referral-link"]')
  const m = await me()
  assert.equal(await text('[data-test="referral-link"]'), m.referral_link)
  await page.waitForFunction(() => {
    const c = document.querySelector('[data-test="qr"]')
    return c && c.width > 0 && c.getContext('2d').getImageData(0, 0, 1, 1).data[3] > 0
  })
  const { width, height, data } = await page.evaluate(() => {
    const c = document.querySelector('[data-test="qr"]')
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height)
    return { width: d.width, height: d.height, data: Array.from(d.data) }
  })
  const code = jsQR(Uint8ClampedArray.from(data), width, height)
  assert.ok(code, 'the QR code decodes')
  assert.equal(code.data, m.referral_link)
  assert.match(m.referral_link, new RegExp(`/join\\?ref=${member.member}$`))
  const refs = await api('/v1/me/referrals', { token: member.token })
  assert.equal(await page.locator('[data-test="direct"]').count(), refs.direct.length)
  await shot('m-invite', 375, 320)
})

test('invite: my rewards by kind, 直推 as the API reports it', async () => {
  const page = ctx.page
  // A demo member with direct referral rewards.
  let found
  for (const m of await api('/v1/demo/members', { token: undefined })) {
    const refs = await api('/v1/me/referrals', { token: m.token })
    const direct = refs.rewards_by_kind.find((k) => k.kind === 'direct')
    if (direct && fen(direct.amount) > 0n) {
      found = { m, refs, direct }
      break
    }
  }
  assert.ok(found, 'a demo member has direct referral rewards')
  await open(found.m.token, '/invite')
  await page.waitForSelector('[data-test="reward-direct"]')
  const row = (kind) => text(`[data-test="reward-${kind}"] .van-cell__value`)
  assert.equal(await row('direct'), shownMoney(found.direct.amount))
  assert.match(await text('[data-test="reward-direct"] .van-cell__title'), /直推奖励/)
  assert.equal(await page.locator('[data-test="rewards-by-kind-empty"]').count(), 0)
  // Every kind with money is listed with its amount; the total is the API's.
  for (const k of found.refs.rewards_by_kind) {
    if (fen(k.amount) !== 0n) assert.equal(await row(k.kind), shownMoney(k.amount), k.kind)
  }
  assert.equal(await text('[data-test="rewards"]'), shownMoney(found.refs.rewards))
  await shot('m-invite-rewards', 375, 320)
  // 明细 words every reason, the rewards by kind too (none is shown as an "other change").
  await open(found.m.token, '/history')
  await page.waitForSelector('[data-test="ledger-item"]')
  const items = await page.locator('[data-test="ledger-item"]').allTextContents()
  assert.ok(items.every((t) => !t.includes('其他变动')), items.join('\n'))
  // A member who just joined has no rewards yet: the list says so.
  const joined = await api('/v1/demo/join', { method: 'POST', body: { ref: found.m.member }, token: undefined })
  await open(joined.token, '/invite')
  await page.waitForSelector('[data-test="rewards-by-kind-empty"]')
  assert.equal(await page.locator('[data-test^="reward-"]').count(), 0)
  await shot('m-invite-no-rewards', 375, 320)
})

test('history: the ledger with reasons in words; redeem and rules', async () => {
  const page = ctx.page
  await open(member.token, '/history')
  await page.waitForSelector('[data-test="ledger-item"]')
  // The sale of the test above is the newest entry.
  assert.match(await text('[data-test="ledger-item"]'), /卖出积分/)
  await shot('m-history', 375, 320)

  await open(member.token, '/redeem')
  await page.waitForSelector('[data-test="redeem-amount"] input')
  const before = await me()
  await page.fill('[data-test="redeem-amount"] input', '1')
  await page.click('[data-test="redeem-submit"]')
  await page.waitForSelector('[data-test="redeemed"]')
  const after = await me()
  assert.ok(units(after.points) < units(before.points), 'points were spent')
  await shot('m-redeem', 375, 320)

  await open(member.token, '/rules')
  await page.waitForSelector('[data-test="rules-stays"]')
  const rules = await api('/v1/me/rules', { token: member.token })
  assert.equal(rules.retention, '0.2')
  assert.match(await text('[data-test="rules-sell"]'), /20% 的价值留在资金池，你拿到 80%/)
  assert.match(await text('[data-test="rules-stays"]'), /价格就停在原处/)
  await shot('m-rules', 375, 320)
})

test('a JWT minted with the configured secret opens /m/; one signed with another key is refused', async () => {
  const page = ctx.page
  const exp = Math.floor(Date.now() / 1000) + 600
  await open(jwt({ sub: member.member, exp }, JWT_SECRET))
  await page.waitForSelector('[data-page="home"] [data-test="points"]')
  assert.equal(await text('[data-test="points"]'), shownPoints((await me()).points))
  await page.evaluate(() => sessionStorage.clear())
  await open(jwt({ sub: member.member, exp }, 'another-secret-entirely'))
  await page.waitForSelector('[data-page="no-token"]')
  assert.match(await text('[data-test="token-problem"]'), /会员令牌无效/)
  await shot('m-refused', 375, 320)
})

test('/join?ref= in the demo registers a new member under the referrer and opens their page', async () => {
  const page = ctx.page
  await page.evaluate(() => sessionStorage.clear())
  await page.goto(`${ctx.consoleBase}/join?ref=${member.member}`)
  await page.waitForSelector('[data-test="join-title"]')
  assert.match(await text('[data-test="join-title"]'), new RegExp(`${member.member} 邀请你加入`))
  await shot('join', 375, 320)
  await page.click('[data-test="join-demo"]')
  await page.waitForSelector('[data-page="home"] [data-test="points"]')
  assert.equal(await text('[data-test="points"]'), '0.00')
  const token = await page.evaluate(() => sessionStorage.getItem('zengzhi.member.token'))
  const joined = await me(token)
  assert.match(joined.member, /^demo-/)
  const refs = await api('/v1/me/referrals', { token: member.token })
  assert.ok(refs.direct.some((r) => r.member === joined.member && r.bought === false), 'a direct referral who has not bought')
  await shot('m-home-new', 375)
})

test('/m/demo lists demo members to enter as', async () => {
  const page = ctx.page
  await page.goto(`${ctx.consoleBase}/m/demo`)
  await page.waitForSelector('[data-test="demo-member"]')
  await shot('m-demo', 375, 320)
})
