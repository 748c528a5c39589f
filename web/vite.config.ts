// The operator console (后台), served by `zengzhi serve` at /admin/.
// Built into dist/admin/ (index.html + assets/), so the server maps the URL prefix /admin/
// onto that folder. Later apps (/m/ member page, /store/ store page) get a config of their
// own with the same shape and share src/shared/ (API client, formatting, i18n).
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import AutoImport from 'unplugin-auto-import/vite'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'

const src = (p: string) => fileURLToPath(new URL(`./src/${p}`, import.meta.url))

export default defineConfig({
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
