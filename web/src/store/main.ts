import { createApp } from 'vue'
import App from './App.vue'
import { i18n } from './i18n'
// Function components' styles (components get theirs from the resolver).
import 'vant/es/toast/style'
import './styles.css'

createApp(App).use(i18n).mount('#app')
