import { createRouter, createWebHashHistory } from 'vue-router'
import Home from './pages/Home.vue'

export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/', component: Home, meta: { tab: 'home' } },
    { path: '/sell', component: () => import('./pages/Sell.vue'), meta: { tab: 'sell' } },
    { path: '/withdraw', component: () => import('./pages/Withdraw.vue'), meta: { tab: 'withdraw' } },
    { path: '/invite', component: () => import('./pages/Invite.vue'), meta: { tab: 'invite' } },
    { path: '/history', component: () => import('./pages/History.vue'), meta: { tab: 'history' } },
    { path: '/redeem', component: () => import('./pages/Redeem.vue'), meta: { back: true } },
    { path: '/rules', component: () => import('./pages/Rules.vue'), meta: { back: true } },
    { path: '/:rest(.*)*', redirect: '/' },
  ],
})
