// Builds the 1Flow web plugin into one minified file (committed; served by the server at /plugins/actions-1flow.js).
// Usage: node scripts/build-plugin.mjs [--outfile PATH]   (default: the committed dist file; prints sizes as JSON)
import { build } from 'esbuild'
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { fileURLToPath, pathToFileURL } from 'node:url'

export const WEB_DIR = fileURLToPath(new URL('../src/actions_1flow/destinations/oneflow/web/', import.meta.url))
export const DIST_FILE = `${WEB_DIR}dist/actions-1flow.min.js`

// Shared with the tests, which run the conformance corpora through code built exactly this way.
export const BUILD_OPTIONS = {
  bundle: true,
  minify: true,
  target: 'es2017', // `??` and object spread are lowered for older browsers
  legalComments: 'none',
  charset: 'utf8',
  logLevel: 'warning',
}

export async function buildPlugin(outfile = DIST_FILE) {
  await build({ ...BUILD_OPTIONS, entryPoints: [`${WEB_DIR}index.js`], outfile, format: 'iife' })
  const bytes = readFileSync(outfile)
  return { outfile, bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const at = process.argv.indexOf('--outfile')
  console.log(JSON.stringify(await buildPlugin(at > 0 ? process.argv[at + 1] : undefined)))
}
