// build.test.ts: runs the real build and checks that dist/modload is one
// self-contained Linux x86-64 executable that runs with no environment.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { copyFileSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

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
  // with ICU's data the executable is 114.7 MB (Node 22.22.2, start-up snapshot included), without 81.6
  t.ok(exe.length < 95e6, `${(exe.length / 1e6).toFixed(1)} MB: the 33 MB of icudt78_dat are gone`)
  t.equal(exe.readBigUInt64LE(0x28), 0n, 'no section headers (they would describe the old layout)')
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
