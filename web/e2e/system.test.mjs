// End-to-end: the 系统 system page (operators, API keys, the operation and login logs, scheduled
// jobs) against a real `zengzhi serve --demo`.
//
//   npm run build && node --test e2e/system.test.mjs
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { demo } from './harness.mjs'

const ctx = demo()
const { api, shot, goto } = ctx

const rand = () => randomBytes(3).toString('hex')
const CLERK = `clerk-${rand()}`
const CLERK_PASSWORD = `pw-${randomBytes(8).toString('hex')}`
const LABEL = `e2e-${rand()}`
/** The new key, as the dialog showed it. */
let created

/** A sign-in attempt straight against the API: its status and body. */
async function login(username, password) {
  const res = await fetch(`${ctx.apiBase}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  })
  return { status: res.status, body: await res.json() }
}
/** GET with a bearer: the status only. */
async function statusWith(token, path) {
  return (await fetch(ctx.apiBase + path, { headers: { authorization: `Bearer ${token}` } })).status
}
/** The Beijing calendar day `days` from now, YYYY-MM-DD. */
function beijingDay(days = 0) {
  return new Date(Date.now() + 8 * 3600_000 + days * 86400_000).toISOString().slice(0, 10)
}
async function tab(name) {
  await ctx.page.locator('[data-page="system"] .el-tabs__item', { hasText: name }).click()
}
async function confirm(name) {
  await ctx.page.locator('.el-message-box').getByRole('button', { name }).click()
}
const row = (table, text) => ctx.page.locator(`[data-test="${table}"] .el-table__body tr`, { hasText: text })
const attrs = (sel, attr) => ctx.page.locator(sel).evaluateAll((els, a) => els.map((e) => e.getAttribute(a)), attr)
const texts = async (sel) => (await ctx.page.locator(sel).allTextContents()).map((s) => s.trim())

test('a super admin adds an operator through the UI; it signs in; disabled through the UI, its sign-in is refused', async () => {
  await ctx.signInAsAdmin()
  await goto('/system')
  await ctx.page.waitForSelector('[data-test="users-table"] .el-table__body tr')
  // the table is the server's list
  const listed = await api('/v1/admin/users')
  assert.deepEqual((await texts('[data-test="user-name"]')).sort(), listed.items.map((u) => u.username).sort())

  await ctx.page.click('[data-test="add-user"]')
  const dialog = ctx.page.locator('[data-test="add-user-dialog"]')
  await dialog.waitFor()
  // nothing filled in: the problems in words, nothing sent
  await ctx.page.click('[data-test="add-user-submit"]')
  await dialog.getByText('请填写用户名').waitFor()
  await dialog.getByText('密码至少需要 10 个字符').waitFor()
  await ctx.page.fill('[data-test="new-username"]', '李 四')
  await ctx.page.fill('[data-test="new-password"]', CLERK_PASSWORD)
  await ctx.page.fill('[data-test="new-password2"]', CLERK_PASSWORD + 'x')
  await dialog.getByText('用户名只能包含字母、数字和 . _ -').waitFor()
  await dialog.getByText('两次输入的密码不一致').waitFor()
  assert.equal((await api('/v1/admin/users')).items.length, listed.items.length, 'nothing was created')

  // a taken name: the server's message
  await ctx.page.fill('[data-test="new-username"]', 'admin')
  await ctx.page.fill('[data-test="new-password2"]', CLERK_PASSWORD)
  await ctx.page.click('[data-test="add-user-submit"]')
  const err = await ctx.page.waitForSelector('[data-test="add-user-error"]')
  assert.match(await err.textContent(), /该用户名已存在/)
  await shot('system-users-add-error')

  // the operator, role picked from the list
  await ctx.page.fill('[data-test="new-username"]', CLERK)
  await ctx.page.click('[data-test="new-role"]')
  await ctx.page.locator('.el-select-dropdown__item:visible', { hasText: '运营' }).click()
  await ctx.page.click('[data-test="add-user-submit"]')
  await dialog.waitFor({ state: 'hidden' })
  await row('users-table', CLERK).waitFor()
  const mine = (await api('/v1/admin/users')).items.find((u) => u.username === CLERK)
  assert.deepEqual({ role: mine?.role, disabled: mine?.disabled }, { role: 'operator', disabled: false })
  assert.match(await row('users-table', CLERK).locator('[data-test="user-role"]').textContent(), /运营/)
  assert.match(await row('users-table', CLERK).locator('[data-test="user-status"]').textContent(), /启用/)

  // it signs in
  const ok = await login(CLERK, CLERK_PASSWORD)
  assert.equal(ok.status, 200)
  assert.deepEqual(await api('/v1/auth/me', { token: ok.body.token }), { username: CLERK, role: 'operator' })
  await shot('system-users', 1280, 1920)

  // disabled through the UI
  await row('users-table', CLERK).locator('[data-test="disable-user"]').click()
  assert.match(await ctx.page.textContent('.el-message-box'), new RegExp(CLERK))
  await confirm('停用')
  await row('users-table', CLERK).locator('[data-test="user-status"]', { hasText: '已停用' }).waitFor()
  assert.equal(await row('users-table', CLERK).locator('[data-test="disable-user"]').count(), 0)
  assert.equal((await api('/v1/admin/users')).items.find((u) => u.username === CLERK)?.disabled, true)
  const refused = await login(CLERK, CLERK_PASSWORD)
  assert.equal(refused.status, 401)
  assert.equal(refused.body.error, 'invalid_credentials')
  assert.equal(await statusWith(ok.body.token, '/v1/auth/me'), 401, 'its session ended')
  // the signed-in admin cannot disable itself from here
  assert.equal(await row('users-table', /^admin/).locator('[data-test="disable-user"]').count(), 0)
})

test('an API key is created through the UI, shown once, works, is gone from the page, and stops working when revoked', async () => {
  await tab('API 密钥')
  await ctx.page.waitForSelector('[data-test="tab-keys"] [data-test="create-key"]')
  await ctx.page.click('[data-test="create-key"]')
  await ctx.page.locator('[data-test="create-key-dialog"] [data-scope="readonly"]').click()
  await ctx.page.fill('[data-test="new-label"]', LABEL)
  await ctx.page.click('[data-test="create-key-submit"]')
  const shown = ctx.page.locator('[data-test="new-key-dialog"]')
  await shown.locator('[data-test="new-key"]').waitFor()
  assert.match(await shown.locator('[data-test="new-key-warning"]').textContent(), /不会再次显示/)
  const key = await shown.locator('[data-test="new-key"]').inputValue()
  assert.ok(key.length >= 20, key)
  const info = (await api('/v1/admin/keys')).items.find((k) => k.label === LABEL)
  assert.ok(info, 'the API lists the new key')
  assert.equal(info.scope, 'readonly')
  assert.match(await shown.textContent(), new RegExp(info.fingerprint))
  created = { key, fingerprint: info.fingerprint }
  await shot('system-keys-new')

  // it works: a readonly key reads, and is who the server says
  assert.deepEqual(await api('/v1/auth/me', { token: key }), { username: `key:${info.fingerprint}`, role: 'auditor' })
  assert.equal(await statusWith(key, '/v1/admin/audit?limit=1'), 200)

  await ctx.page.click('[data-test="close-new-key"]')
  await shown.waitFor({ state: 'detached' })
  const anywhere = await ctx.page.evaluate(
    (k) => document.documentElement.outerHTML.includes(k) || [...document.querySelectorAll('input, textarea')].some((e) => e.value.includes(k)),
    key,
  )
  assert.equal(anywhere, false, 'the key is nowhere on the page once its dialog is closed')

  const r = row('keys-table', info.fingerprint)
  assert.match(await r.textContent(), new RegExp(LABEL))
  assert.match(await r.locator('[data-test="key-status"]').textContent(), /有效/)
  await shot('system-keys', 1280, 1920)

  await r.locator('[data-test="revoke-key"]').click()
  await confirm('吊销')
  await r.locator('[data-test="key-status"]', { hasText: '已吊销' }).waitFor()
  assert.equal((await api('/v1/admin/keys')).items.find((k) => k.fingerprint === info.fingerprint)?.revoked, true)
  // revoked keys stop working within 2 s (the server's key cache)
  const deadline = Date.now() + 5000
  let status
  while ((status = await statusWith(key, '/v1/admin/audit?limit=1')) !== 401 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100))
  assert.equal(status, 401)
})

test('the operation log lists those actions by their user, newest first; the action, target and date filters are the server’s', async () => {
  // one action on a member, to follow its link
  const state = await api('/v1/admin/state')
  const member = Object.keys(state.members)[0]
  await api('/v1/coins', { method: 'POST', body: { member, amount: '1.00' } })

  await tab('操作日志')
  await ctx.page.waitForSelector('[data-test="audit-table"] .el-table__body tr')
  assert.match(ctx.page.url(), /tab=audit/)
  const all = await api('/v1/admin/audit?order=desc&limit=100')
  assert.deepEqual(await attrs('[data-test="audit-action"]', 'data-action'), all.items.map((r) => r.action))
  assert.deepEqual(await texts('[data-test="audit-who"]'), all.items.map((r) => r.who))

  // ours, by the signed-in admin, newest first
  const ours = all.items.filter((r) => ['users_create', 'users_disable', 'keys_create', 'keys_revoke'].includes(r.action))
  assert.deepEqual(ours.map((r) => r.action), ['keys_revoke', 'keys_create', 'users_disable', 'users_create'])
  assert.ok(ours.every((r) => r.who === 'user:admin'), JSON.stringify(ours.map((r) => r.who)))
  const ids = all.items.map((r) => r.id)
  assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first')
  // known actions have a Chinese label, not their raw name
  for (const a of ['users_create', 'keys_revoke']) {
    const label = (await ctx.page.locator(`[data-test="audit-action"][data-action="${a}"]`).first().textContent()).trim()
    assert.notEqual(label, a)
    assert.match(label, /[\u4e00-\u9fff]/)
  }
  await shot('system-audit', 1280, 1920)

  // the full detail on expanding a row
  const keysRow = row('audit-table', created.fingerprint).filter({ has: ctx.page.locator('[data-action="keys_create"]') })
  await keysRow.locator('.el-table__expand-icon').click()
  assert.match(await ctx.page.locator('[data-test="audit-expanded"]').first().textContent(), new RegExp(`fingerprint ${created.fingerprint}`))
  await shot('system-audit-expanded')

  // a member target links to the member
  const link = ctx.page.locator('[data-test="audit-target"]', { hasText: `member:${member}` }).first()
  assert.equal(await link.getAttribute('href'), `#/members/${encodeURIComponent(member)}`)

  // by action
  await ctx.page.click('[data-test="filter-action"]')
  await ctx.page.keyboard.type('keys_create')
  await ctx.page.locator('.el-select-dropdown__item:visible', { hasText: 'keys_create' }).first().click()
  await ctx.page.waitForFunction(() => /action=keys_create/.test(location.hash))
  const byAction = await api('/v1/admin/audit?order=desc&limit=100&action=keys_create')
  await ctx.page.waitForFunction(
    (n) => {
      const cells = [...document.querySelectorAll('[data-test="audit-action"]')]
      return cells.length === n && cells.every((c) => c.getAttribute('data-action') === 'keys_create')
    },
    byAction.items.length,
  )
  assert.ok(byAction.items.length >= 1 && byAction.items.length < all.items.length)
  assert.deepEqual(await texts('[data-test="audit-target"]'), byAction.items.map((r) => r.target ?? '—'))
  await shot('system-audit-filtered')

  // by target (the action filter cleared)
  await ctx.page.locator('[data-test="filter-action"] .el-select__wrapper').hover()
  await ctx.page.locator('[data-test="filter-action"] .el-select__clear').click()
  await ctx.page.waitForFunction(() => !/action=/.test(location.hash))
  await ctx.page.fill('[data-test="filter-target"]', `user:${CLERK}`)
  await ctx.page.press('[data-test="filter-target"]', 'Enter')
  const byTarget = await api(`/v1/admin/audit?order=desc&limit=100&target=${encodeURIComponent(`user:${CLERK}`)}`)
  assert.deepEqual(byTarget.items.map((r) => r.action), ['users_disable', 'users_create'])
  await ctx.page.waitForFunction(
    (want) => JSON.stringify([...document.querySelectorAll('[data-test="audit-action"]')].map((c) => c.getAttribute('data-action'))) === want,
    JSON.stringify(byTarget.items.map((r) => r.action)),
  )
  assert.deepEqual(await attrs('[data-test="audit-change"]', 'data-after'), byTarget.items.map((r) => r.after))
  assert.deepEqual(await attrs('[data-test="audit-change"]', 'data-before'), byTarget.items.map((r) => r.before))
  // in words: the disable was 启用 → 已停用, not enabled → disabled
  for (const s of await texts('[data-test="audit-change"]')) assert.match(s, /^[\u4e00-\u9fff]+ → [\u4e00-\u9fff]+$/, s)

  // by day: today (Beijing) has them all, tomorrow none; kept in the link
  const today = beijingDay()
  await goto(`/system?tab=audit&target=${encodeURIComponent(`user:${CLERK}`)}&from=${today}&to=${today}`)
  await ctx.page.waitForFunction(
    (n) => document.querySelectorAll('[data-test="audit-action"]').length === n,
    (await api(`/v1/admin/audit?order=desc&target=${encodeURIComponent(`user:${CLERK}`)}&from=${today}&to=${today}`)).items.length,
  )
  const tomorrow = beijingDay(1)
  assert.equal((await api(`/v1/admin/audit?from=${tomorrow}&to=${tomorrow}`)).items.length, 0)
  await goto(`/system?tab=audit&from=${tomorrow}&to=${tomorrow}`)
  await ctx.page.waitForSelector('[data-test="tab-audit"] [data-state="empty"]')
  assert.deepEqual(await ctx.page.inputValue('[data-test="filter-dates"] input >> nth=0'), tomorrow)

  // the link opens the member
  await goto('/system?tab=audit&action=grant_coins')
  await ctx.page.locator('[data-test="audit-target"]', { hasText: `member:${member}` }).first().click()
  await ctx.page.waitForFunction((m) => location.hash.startsWith(`#/members/${encodeURIComponent(m)}`), member)
})

test('the login log shows a wrong password and a disabled account, with their reasons', async () => {
  const wrong = await login('admin', `not-${rand()}`)
  assert.equal(wrong.status, 401)
  await goto('/system?tab=logins&success=failed')
  await ctx.page.waitForSelector('[data-test="logins-table"] .el-table__body tr')
  const failed = await api('/v1/admin/logins?order=desc&limit=100&success=false')
  assert.deepEqual(await attrs('[data-test="login-reason"]', 'data-reason'), failed.items.map((r) => r.reason))
  assert.deepEqual(await texts('[data-test="login-username"]'), failed.items.map((r) => r.username))
  assert.ok((await texts('[data-test="login-success"]')).every((s) => s === '失败'))
  // the newest is the wrong password just tried
  const first = ctx.page.locator('[data-test="logins-table"] .el-table__body tr').first()
  assert.equal(await first.locator('[data-test="login-username"]').textContent(), 'admin')
  assert.equal(await first.locator('[data-test="login-reason"]').getAttribute('data-reason'), 'wrong_password')
  assert.equal((await first.locator('[data-test="login-reason"]').textContent()).trim(), '密码错误')
  await shot('system-logins', 1280, 1920)

  // by user name: the operator's attempts, its refused one labelled as disabled
  await ctx.page.fill('[data-test="filter-username"]', CLERK)
  await ctx.page.press('[data-test="filter-username"]', 'Enter')
  await ctx.page.locator('[data-test="filter-success"] .el-radio-button', { hasText: '全部' }).click()
  await ctx.page.waitForFunction(() => /username=/.test(location.hash) && !/success=/.test(location.hash))
  const clerk = await api(`/v1/admin/logins?order=desc&limit=100&username=${CLERK}`)
  assert.deepEqual(clerk.items.map((r) => r.reason), ['disabled', 'ok'])
  await ctx.page.waitForFunction(
    (want) => JSON.stringify([...document.querySelectorAll('[data-test="login-reason"]')].map((c) => c.getAttribute('data-reason'))) === want,
    JSON.stringify(clerk.items.map((r) => r.reason)),
  )
  assert.deepEqual(await texts('[data-test="login-reason"]'), ['账号已停用', '登录成功'])
})

test('scheduled and background jobs are the server’s; a chain check is followed to its end', async () => {
  const started = await api('/v1/admin/jobs/verify', { method: 'POST', body: {} })
  await goto('/system?tab=jobs')
  await ctx.page.waitForSelector('[data-test="tab-jobs"] [data-test="jobs-table"]')
  const jobs = await api('/v1/admin/jobs')
  if (jobs.scheduled.length) {
    assert.deepEqual(await attrs('[data-test="scheduled-name"]', 'data-job'), jobs.scheduled.map((j) => j.name))
    assert.deepEqual(await texts('[data-test="scheduled-next"]'), jobs.scheduled.map((j) => j.next_run))
  } else {
    await ctx.page.getByText('未配置定时任务').waitFor()
  }
  // the page refreshes itself until the check is done
  await ctx.page.locator('[data-test="jobs-table"] [data-test="job-state"]', { hasText: '已完成' }).first().waitFor({ timeout: 30_000 })
  const done = await api(`/v1/admin/jobs/${started.job.id}`)
  assert.equal(done.state, 'done')
  assert.equal(done.result?.ok, true)
  assert.match(await ctx.page.locator('[data-test="job-result"]').first().textContent(), new RegExp(`通过（${done.result.entries.toLocaleString('en-US')} 条）`))
  await shot('system-jobs', 1280, 1920)
})

test('an auditor sees the page read-only: no add, disable, create or revoke; what the server refuses it says so', async () => {
  const auditor = await ctx.signInAs('auditor')
  await goto('/system')
  await ctx.page.waitForSelector('[data-page="system"] [data-test="read-only"]')
  const writes = '[data-test="add-user"], [data-test="disable-user"], [data-test="create-key"], [data-test="revoke-key"]'

  // it opens on the operation log, which it may read
  await ctx.page.waitForSelector('[data-test="audit-table"] .el-table__body tr')
  assert.match(ctx.page.url(), /tab=audit/)

  // operators and keys: the server refuses an auditor, and the page says so
  assert.equal(await statusWith(auditor.token, '/v1/admin/users'), 403)
  await tab('操作员')
  await ctx.page.waitForSelector('[data-test="tab-users"] [data-state="forbidden"]')
  assert.equal(await ctx.page.locator(writes).count(), 0)
  await shot('system-auditor-users')
  await tab('API 密钥')
  await ctx.page.waitForSelector('[data-test="tab-keys"] [data-state="forbidden"]')
  assert.equal(await ctx.page.locator(writes).count(), 0)

  // the operation log reads
  await tab('操作日志')
  await ctx.page.waitForSelector('[data-test="audit-table"] .el-table__body tr')
  assert.equal(await ctx.page.locator(writes).count(), 0)
  await shot('system-auditor-audit')

  // the login log: refused, said so
  assert.equal(await statusWith(auditor.token, '/v1/admin/logins'), 403)
  await tab('登录日志')
  await ctx.page.waitForSelector('[data-test="tab-logins"] [data-state="forbidden"]')
  assert.match(await ctx.page.textContent('[data-test="tab-logins"] [data-test="refusal"]'), /[\u4e00-\u9fff]/)
  await shot('system-auditor-logins')

  await tab('定时任务')
  await ctx.page.waitForSelector('[data-test="tab-jobs"] [data-test="jobs-table"]')
  assert.equal(await ctx.page.locator(writes).count(), 0)
})

test('the operation log pages on with “load more”, from the server’s next_after', async () => {
  const member = Object.keys((await api('/v1/admin/state')).members)[1]
  for (let i = 0; i < 101; i++) await api('/v1/coins', { method: 'POST', body: { member, amount: '0.01' } })
  const first = await api('/v1/admin/audit?order=desc&limit=100&action=grant_coins')
  assert.equal(first.items.length, 100)
  assert.notEqual(first.next_after, null)
  const second = await api(`/v1/admin/audit?order=desc&limit=100&action=grant_coins&after=${first.next_after}`)
  await goto('/system?tab=audit&action=grant_coins')
  await ctx.page.waitForFunction(() => document.querySelectorAll('[data-test="audit-action"]').length === 100)
  await ctx.page.click('[data-test="load-more"]')
  const want = first.items.length + second.items.length
  await ctx.page.waitForFunction((n) => document.querySelectorAll('[data-test="audit-action"]').length === n, want)
  // the same entries, in the same order, once each
  assert.deepEqual(await attrs('[data-test="audit-at"]', 'data-id'), [...first.items, ...second.items].map((r) => String(r.id)))
  assert.equal(await ctx.page.locator('[data-test="load-more"]').count(), second.next_after === null ? 0 : 1)
})

test('the page in English: labels, not keys', async () => {
  await goto('/')
  await ctx.page.click('[data-test="lang"]')
  await ctx.page.getByRole('option', { name: 'English' }).click()
  await goto('/system?tab=audit&who=user:admin')
  await ctx.page.waitForSelector('[data-test="audit-table"] .el-table__body tr')
  await ctx.page.getByRole('tab', { name: 'Operation log' }).waitFor()
  assert.equal(await ctx.page.inputValue('[data-test="filter-who"]'), 'user:admin', 'the filter is read back from the link')
  const body = await ctx.page.textContent('[data-page="system"]')
  assert.doesNotMatch(body, /system\.[a-z]+\.[a-zA-Z]/, 'no raw i18n keys')
  assert.doesNotMatch(body, /[\u4e00-\u9fff]/, 'no Chinese in English mode')
  await shot('system-audit-en')
  await ctx.page.getByRole('tab', { name: 'Login log' }).click()
  await ctx.page.waitForSelector('[data-test="tab-logins"] [data-state="forbidden"]')
  assert.match(await ctx.page.textContent('[data-test="tab-logins"]'), /Superadmins only/)
  await shot('system-logins-en')
  await ctx.page.getByRole('tab', { name: 'Scheduled jobs' }).click()
  await ctx.page.waitForSelector('[data-test="tab-jobs"] [data-test="jobs-table"]')
  assert.doesNotMatch(await ctx.page.textContent('[data-page="system"]'), /[\u4e00-\u9fff]/)
  await shot('system-jobs-en')
})
