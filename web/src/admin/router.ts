import { createRouter, createWebHashHistory, type RouteRecordRaw } from 'vue-router'
import { useSession } from './stores/session'
import { canSee, type Section } from './roles'

declare module 'vue-router' {
  interface RouteMeta {
    section?: Section
  }
}

const routes: RouteRecordRaw[] = [
  { path: '/login', name: 'login', component: () => import('./pages/LoginPage.vue') },
  {
    path: '/',
    component: () => import('./layout/AdminLayout.vue'),
    children: [
      { path: '', name: 'dashboard', component: () => import('./pages/DashboardPage.vue'), meta: { section: 'dashboard' } },
      { path: 'members', name: 'members', component: () => import('./pages/MembersPage.vue'), meta: { section: 'members' } },
      { path: 'members/:id', name: 'member', component: () => import('./pages/MemberDetailPage.vue'), meta: { section: 'members' } },
      { path: 'stores', name: 'stores', component: () => import('./pages/StoresPage.vue'), meta: { section: 'stores' } },
      { path: 'stores/:id', name: 'store', component: () => import('./pages/StoreDetailPage.vue'), meta: { section: 'stores' } },
      { path: 'agents', name: 'agents', component: () => import('./pages/AgentsPage.vue'), meta: { section: 'agents' } },
      { path: 'shareholders', name: 'shareholders', component: () => import('./pages/ShareholdersPage.vue'), meta: { section: 'shareholders' } },
      { path: 'orders', name: 'orders', component: () => import('./pages/OrdersPage.vue'), meta: { section: 'orders' } },
      { path: 'withdrawals', name: 'withdrawals', component: () => import('./pages/WithdrawalsPage.vue'), meta: { section: 'withdrawals' } },
      { path: 'finance', name: 'finance', component: () => import('./pages/FinancePage.vue'), meta: { section: 'finance' } },
      { path: 'rules', name: 'rules', component: () => import('./pages/RulesPage.vue'), meta: { section: 'rules' } },
      { path: 'operations', name: 'operations', component: () => import('./pages/OperationsPage.vue'), meta: { section: 'operations' } },
      { path: 'simulator', name: 'simulator', component: () => import('./pages/SimulatorPage.vue'), meta: { section: 'simulator' } },
      { path: 'system', name: 'system', component: () => import('./pages/SystemPage.vue'), meta: { section: 'system' } },
    ],
  },
  { path: '/:rest(.*)*', redirect: '/' },
]

export const router = createRouter({ history: createWebHashHistory(), routes })

router.beforeEach((to) => {
  const session = useSession()
  if (to.name === 'login') return session.signedIn ? { name: 'dashboard' } : true
  if (!session.signedIn) return { name: 'login', query: to.fullPath !== '/' ? { redirect: to.fullPath } : {} }
  const section = to.meta.section
  if (section && !canSee(session.role, section)) return { name: 'dashboard' }
  return true
})
