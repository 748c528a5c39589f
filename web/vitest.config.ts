import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (p: string) => fileURLToPath(new URL(`./src/${p}`, import.meta.url))

export default defineConfig({
  resolve: { alias: { '@shared': src('shared'), '@admin': src('admin'), '@m': src('m') } },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
})
