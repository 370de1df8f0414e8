// Copies the pinned chart library (uPlot, package.json) from node_modules into the console's package data, so a
// wheel install serves it without node_modules, and prints the gzipped weight of every console asset as JSON.
// Usage: node scripts/build-console.mjs [--check]   (--check: only compare, exit 1 when a copy differs)
import { copyFileSync, readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const STATIC = `${ROOT}src/actions_1flow/console/static/`
export const VENDORED = {
  'uPlot.iife.min.js': `${ROOT}node_modules/uplot/dist/uPlot.iife.min.js`,
  'uPlot.min.css': `${ROOT}node_modules/uplot/dist/uPlot.min.css`,
}
const OWN = ['console.js', 'console.css']

const check = process.argv.includes('--check')
let differs = false
for (const [name, from] of Object.entries(VENDORED)) {
  const to = `${STATIC}vendor/${name}`
  if (check) differs ||= !readFileSync(from).equals(readFileSync(to))
  else copyFileSync(from, to)
}
const sizes = {}
for (const path of [...OWN.map((n) => STATIC + n), ...Object.keys(VENDORED).map((n) => `${STATIC}vendor/${n}`)]) {
  const bytes = readFileSync(path)
  sizes[path.slice(STATIC.length)] = { bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length }
}
const total = Object.values(sizes).reduce((a, s) => ({ bytes: a.bytes + s.bytes, gzip: a.gzip + s.gzip }), { bytes: 0, gzip: 0 })
console.log(JSON.stringify({ version: JSON.parse(readFileSync(`${ROOT}node_modules/uplot/package.json`)).version, sizes, total }, null, 2))
if (differs) {
  console.error('the vendored uPlot differs from node_modules: run node scripts/build-console.mjs')
  process.exit(1)
}
