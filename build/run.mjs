// run.mjs: runs a TypeScript entry (a QEMU script, the demo, the benchmark) with plain Node:
// esbuild bundles it, npm packages left external, into .cache/run/, and Node imports that.
// Usage: node build/run.mjs FILE.ts [ARGS...]
import { build } from 'esbuild'
import { mkdirSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const entry = process.argv[2]
if (!entry) {
  console.error('usage: node build/run.mjs FILE.ts [ARGS...]')
  process.exit(2)
}
const outdir = join(root, '.cache', 'run')
mkdirSync(outdir, { recursive: true })
const outfile = join(outdir, `${basename(entry).replace(/\.ts$/, '')}.mjs`)
await build({
  entryPoints: [resolve(entry)],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'inline',
  logLevel: 'warning',
  // bundled files keep their own location for import.meta.url-relative paths
  define: {},
})
process.argv.splice(1, 2, outfile)
await import(pathToFileURL(outfile).href)
