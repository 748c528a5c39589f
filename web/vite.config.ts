// The pages of the front end, each built on its own into dist/<page>/ (index.html + assets/)
// and served by `zengzhi serve` at /<page>/; they share src/shared/ (API client, formatting,
// i18n). `vite build` builds the operator console (后台, /admin/); `vite build --mode m` the
// member app (会员, /m/, Vant on demand); `vite build --mode store` the store owner's page
// (门店, /store/); `npm run build` builds all three. The same goes for `npm run dev` /
// `npm run dev:m` / `npm run dev:store`.
import { fileURLToPath } from 'node:url'
import { defineConfig, type PluginOption, type UserConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import AutoImport from 'unplugin-auto-import/vite'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver, VantResolver } from 'unplugin-vue-components/resolvers'

const src = (p: string) => fileURLToPath(new URL(`./src/${p}`, import.meta.url))

/**
 * Fonts come from the page itself, never from another site: Vant's icon font lists a copy on a
 * CDN after the one inlined as a data: URL. The pages' Content Security Policy (`font-src 'self'
 * data:`) would block it anyway; the built CSS drops such remote sources (privacy, and
 * deployments without the internet); the browser tests fail on any policy violation.
 */
const remoteFontSource = /,\s*url\((?:https?:)?\/\/[^)]*\)\s*format\([^)]*\)/g
const localFontsOnly: PluginOption = {
  name: 'local-fonts-only',
  enforce: 'post',
  generateBundle(_, bundle) {
    for (const file of Object.values(bundle)) {
      if (file.type === 'asset' && file.fileName.endsWith('.css') && typeof file.source === 'string') {
        file.source = file.source.replace(remoteFontSource, '')
      }
    }
  },
}

/**
 * One page's build: its folder under src/ is the root, served at /<name>/ and built into
 * dist/<name>/; `alias` is its own import alias beside @shared; `plugins` come after vue().
 * `npm run dev` for the page proxies /v1 to a running `zengzhi serve` (ZENGZHI_API, default :8080).
 */
function page(name: 'admin' | 'm' | 'store', o: { alias: string; plugins: PluginOption[]; chunkSizeWarningLimit: number; port?: number }): UserConfig {
  return {
    root: src(name),
    base: `/${name}/`,
    publicDir: false,
    resolve: { alias: { '@shared': src('shared'), [o.alias]: src(o.alias.slice(1)) } },
    plugins: [vue(), ...o.plugins, localFontsOnly],
    build: {
      outDir: fileURLToPath(new URL(`./dist/${name}`, import.meta.url)),
      emptyOutDir: true,
      reportCompressedSize: true,
      chunkSizeWarningLimit: o.chunkSizeWarningLimit,
    },
    server: {
      port: o.port,
      proxy: { '/v1': process.env.ZENGZHI_API ?? 'http://127.0.0.1:8080' },
    },
  }
}

// The member app (会员, /m/): Vant components and their styles, imported per component.
const member = page('m', {
  alias: '@m',
  plugins: [Components({ resolvers: [VantResolver()], dts: src('m/components.d.ts'), dirs: [] })],
  chunkSizeWarningLimit: 300,
  port: 5174,
})

// The store owner's page (门店, /store/): Vant on demand, like the member app; the ECharts chunk
// (loaded on demand for the chart) is the big one.
const store = page('store', {
  alias: '@m',
  plugins: [Components({ resolvers: [VantResolver()], dts: src('store/components.d.ts'), dirs: [] })],
  chunkSizeWarningLimit: 500,
  port: 5175,
})

// The operator console (后台, /admin/): ElMessage / ElMessageBox and their styles imported where
// used, Element Plus components and their styles per component.
const admin = page('admin', {
  alias: '@admin',
  plugins: [
    AutoImport({ resolvers: [ElementPlusResolver()], dts: src('admin/auto-imports.d.ts') }),
    Components({ resolvers: [ElementPlusResolver()], dts: src('admin/components.d.ts'), dirs: [] }),
  ],
  chunkSizeWarningLimit: 700,
})

export default defineConfig(({ mode }) => (mode === 'm' ? member : mode === 'store' ? store : admin))
