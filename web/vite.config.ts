// The pages of the front end, each built on its own into dist/<page>/ (index.html + assets/)
// and served by `zengzhi serve` at /<page>/; they share src/shared/ (API client, formatting,
// i18n). `vite build` builds the operator console (后台, /admin/); `vite build --mode m` the
// member app (会员, /m/, Vant on demand); `vite build --mode store` the store owner's page
// (门店, /store/); `npm run build` builds all three. The same goes for `npm run dev` /
// `npm run dev:m` / `npm run dev:store`.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import AutoImport from 'unplugin-auto-import/vite'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver, VantResolver } from 'unplugin-vue-components/resolvers'

const src = (p: string) => fileURLToPath(new URL(`./src/${p}`, import.meta.url))

const member = defineConfig({
  root: src('m'),
  base: '/m/',
  publicDir: false,
  resolve: { alias: { '@shared': src('shared'), '@m': src('m') } },
  plugins: [
    vue(),
    // Vant components and their styles, imported per component.
    Components({ resolvers: [VantResolver()], dts: src('m/components.d.ts'), dirs: [] }),
  ],
  build: {
    outDir: fileURLToPath(new URL('./dist/m', import.meta.url)),
    emptyOutDir: true,
    reportCompressedSize: true,
    chunkSizeWarningLimit: 300,
  },
  server: {
    port: 5174,
    proxy: { '/v1': process.env.ZENGZHI_API ?? 'http://127.0.0.1:8080' },
  },
})

// The store owner's page (门店, /store/): Vant on demand, like the member app.
const store = defineConfig({
  root: src('store'),
  base: '/store/',
  publicDir: false,
  resolve: { alias: { '@shared': src('shared'), '@m': src('m') } },
  plugins: [vue(), Components({ resolvers: [VantResolver()], dts: src('store/components.d.ts'), dirs: [] })],
  build: {
    outDir: fileURLToPath(new URL('./dist/store', import.meta.url)),
    emptyOutDir: true,
    reportCompressedSize: true,
    // the ECharts chunk (loaded on demand for the chart) is the big one
    chunkSizeWarningLimit: 500,
  },
  server: {
    port: 5175,
    proxy: { '/v1': process.env.ZENGZHI_API ?? 'http://127.0.0.1:8080' },
  },
})

const admin = defineConfig({
  root: src('admin'),
  base: '/admin/',
  publicDir: false,
  resolve: { alias: { '@shared': src('shared'), '@admin': src('admin') } },
  plugins: [
    vue(),
    // ElMessage / ElMessageBox and their styles, imported where used.
    AutoImport({ resolvers: [ElementPlusResolver()], dts: src('admin/auto-imports.d.ts') }),
    // Element Plus components and their styles, imported per component.
    Components({ resolvers: [ElementPlusResolver()], dts: src('admin/components.d.ts'), dirs: [] }),
  ],
  build: {
    outDir: fileURLToPath(new URL('./dist/admin', import.meta.url)),
    emptyOutDir: true,
    reportCompressedSize: true,
    chunkSizeWarningLimit: 700,
  },
  server: {
    // `npm run dev`: the API of a running `zengzhi serve` (ZENGZHI_API, default :8080).
    proxy: { '/v1': process.env.ZENGZHI_API ?? 'http://127.0.0.1:8080' },
  },
})

export default defineConfig(({ mode }) => (mode === 'm' ? member : mode === 'store' ? store : admin))
