// Differential tests against Debian's kmod (30): modinfo for every module of both real kernels
// (6.1: .ko, 6.12: .ko.xz) and depmod's output files for both trees, byte for byte; the same
// for the synthetic tree of test/fixtures/tools, whose odd modules kmod must agree on too.
// Mismatches are reported as counts and the first difference, never as whole-output diffs.
import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureDebianPackages, findCommand } from '../qemu/deps.js'
import { ensureKernel, type KernelFlavor } from '../qemu/kernels.js'
import { makeModinfoTool } from '../src/tools/modinfo.js'
import { makeDepmodTool } from '../src/tools/depmod.js'
import { KVER as FIXTURE_KVER, writeFixtureTree } from './fixtures/tools/tree.js'
import { firstDifference, runTool } from './fixtures/tools/io.js'

const scratch = mkdtempSync(join(tmpdir(), 'modload-kmod-diff-'))
t.teardown(() => rmSync(scratch, { recursive: true, force: true }))

const INDEX_FILES = [
  'modules.dep',
  'modules.dep.bin',
  'modules.alias',
  'modules.alias.bin',
  'modules.softdep',
  'modules.symbols',
  'modules.symbols.bin',
  'modules.builtin.bin',
  'modules.builtin.alias.bin',
  'modules.devname',
]

let kmodBin: { modinfo: string; depmod: string }

t.before(async () => {
  await ensureDebianPackages(['kmod'])
  const modinfo = await findCommand('modinfo')
  const depmod = await findCommand('depmod')
  if (!modinfo || !depmod) throw new Error('kmod is installed but modinfo/depmod are not on PATH or in /sbin')
  kmodBin = { modinfo, depmod }
})

interface Run {
  code: number
  out: Buffer
  err: Buffer
}

/** kmod's tool, with the arguments split into batches small enough for one exec. */
function kmod(cmd: string, fixed: string[], operands: string[] = [], batch = 400): Run {
  const outs: Buffer[] = []
  const errs: Buffer[] = []
  let code = 0
  for (let i = 0; i === 0 || i < operands.length; i += batch) {
    const r = spawnSync(cmd, [...fixed, ...operands.slice(i, i + batch)], { maxBuffer: 1 << 30 })
    if (r.error) throw r.error
    outs.push(r.stdout)
    errs.push(r.stderr)
    if (r.status !== 0) code = r.status ?? 1
  }
  return { code, out: Buffer.concat(outs), err: Buffer.concat(errs) }
}

async function ours(tool: ReturnType<typeof makeModinfoTool>, args: string[]): Promise<Run> {
  const r = await runTool(tool, args)
  return { code: r.code, out: Buffer.from(r.out, 'utf8'), err: Buffer.from(r.err, 'utf8') }
}

function sameRun(t: Test, what: string, expected: Run, actual: Run): void {
  t.equal(actual.code, expected.code, `${what}: exit code`)
  const out = firstDifference(expected.out, actual.out)
  t.equal(out, null, `${what}: stdout (${expected.out.length} bytes)`)
  const err = firstDifference(expected.err, actual.err)
  t.equal(err, null, `${what}: stderr`)
}

/** Every module file under dir, sorted. */
function moduleFiles(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (/\.ko(\.xz|\.zst)?$/.test(e.name)) out.push(p)
    }
  }
  walk(dir)
  return out.sort()
}

/** A tree for depmod runs: the kernel's inputs copied, its modules linked. */
function depmodTree(name: string, modulesDir: string, kver: string): { root: string; dir: string } {
  const root = join(scratch, name)
  const dir = join(root, 'lib', 'modules', kver)
  mkdirSync(dir, { recursive: true })
  for (const f of ['modules.order', 'modules.builtin', 'modules.builtin.modinfo']) copyFileSync(join(modulesDir, f), join(dir, f))
  symlinkSync(join(modulesDir, 'kernel'), join(dir, 'kernel'))
  return { root, dir }
}

function compareIndexes(t: Test, kmodDir: string, ourDir: string): void {
  for (const f of INDEX_FILES) {
    const a = readFileSync(join(kmodDir, f))
    const b = readFileSync(join(ourDir, f))
    t.equal(firstDifference(a, b), null, `${f}: ${a.length} bytes`)
  }
}

for (const flavor of ['6.1', '6.12', '6.1-cloud'] as KernelFlavor[]) {
  t.test(`kernel ${flavor}`, async (t) => {
    const k = await ensureKernel(flavor)
    const files = moduleFiles(join(k.modulesDir, 'kernel'))
    const modinfo = makeModinfoTool({ release: () => k.version, cwd: () => scratch })

    t.test(`modinfo of every module (${files.length} files)`, async (t) => {
      const t0 = Date.now()
      const expected = kmod(kmodBin.modinfo, [], files)
      const t1 = Date.now()
      const actual = await ours(modinfo, files)
      t.comment(`kmod ${t1 - t0} ms, modload ${Date.now() - t1} ms`)
      sameRun(t, 'modinfo FILE...', expected, actual)
      // every module of the tree: as many as depmod listed (the cloud tree has ~1100, the others ~4000)
      const listed = readFileSync(join(k.modulesDir, 'modules.dep'), 'latin1').split('\n').filter((l) => l.startsWith('kernel/')).length
      t.ok(files.length === listed && listed > 500, `${files.length} modules compared, of ${listed} in modules.dep`)
    })

    t.test('modinfo by name and alias, -F/-0/-p/-n, built-in modules', async (t) => {
      const base = ['-b', k.root, '-k', k.version]
      const names = files.filter((_, i) => i % 25 === 0).map((f) => f.slice(f.lastIndexOf('/') + 1).replace(/\.ko.*$/, ''))
      const builtin = readFileSync(join(k.modulesDir, 'modules.builtin'), 'latin1').split('\n').filter(Boolean).slice(0, 40)
      const builtinNames = builtin.map((l) => l.slice(l.lastIndexOf('/') + 1).replace(/\.ko$/, ''))
      const aliases = ['fs-ext4', 'char-major-10-229', 'symbol:e1000_write_reg', 'pci:v00008086d000010D3sv00001234sd00005678bc02sc00i00',
        'pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00', 'crypto-aes', 'net-pf-10', 'devname:fuse', 'no-such-module', 'bad[alias']
      for (const [label, args] of [
        ['names', names],
        ['built-in names', builtinNames],
        ['aliases', aliases],
      ] as const) {
        sameRun(t, `modinfo ${label}`, kmod(kmodBin.modinfo, base, [...args]), await ours(modinfo, [...base, ...args]))
      }
      const some = files.filter((_, i) => i % 40 === 0)
      for (const opts of [['-0'], ['-F', 'alias'], ['-p'], ['-n'], ['-0', '-F', 'depends'], ['-F', 'signature'], ['-a', '-d']]) {
        sameRun(t, `modinfo ${opts.join(' ')} (${some.length} files)`, kmod(kmodBin.modinfo, opts, some), await ours(modinfo, [...opts, ...some]))
      }
      sameRun(t, 'modinfo -m', kmod(kmodBin.modinfo, [...base, '-m'], names.slice(0, 20)), await ours(modinfo, [...base, '-m', ...names.slice(0, 20)]))
    })

    t.test('depmod writes the same index files', async (t) => {
      const a = depmodTree(`kmod-${flavor}`, k.modulesDir, k.version)
      const b = depmodTree(`ours-${flavor}`, k.modulesDir, k.version)
      const t0 = Date.now()
      const expected = kmod(kmodBin.depmod, ['-b', a.root, k.version])
      const t1 = Date.now()
      const depmod = makeDepmodTool({ release: () => k.version, configPaths: [], cwd: () => scratch })
      const actual = await ours(depmod, ['-b', b.root, k.version])
      t.comment(`kmod ${t1 - t0} ms, modload ${Date.now() - t1} ms`)
      t.equal(actual.code, expected.code, 'exit code')
      t.equal(actual.err.toString().replaceAll(b.root, a.root), expected.err.toString(), 'messages')
      compareIndexes(t, a.dir, b.dir)
    })
  })
}

t.test('the synthetic tree of odd modules', async (t) => {
  const kroot = join(scratch, 'fixture-kmod')
  const oroot = join(scratch, 'fixture-ours')
  const kdir = writeFixtureTree(kroot)
  const odir = writeFixtureTree(oroot)
  const depmod = makeDepmodTool({ release: () => FIXTURE_KVER, configPaths: [], cwd: () => scratch })
  const expected = kmod(kmodBin.depmod, ['-b', kroot, FIXTURE_KVER])
  const actual = await ours(depmod, ['-b', oroot, FIXTURE_KVER])
  t.equal(actual.code, expected.code)
  t.equal(actual.err.toString().replaceAll(oroot, kroot), expected.err.toString(), 'depmod messages')
  compareIndexes(t, kdir, odir)
  sameRun(t, 'depmod -n', kmod(kmodBin.depmod, ['-n', '-b', kroot, FIXTURE_KVER]), await ours(depmod, ['-n', '-b', kroot, FIXTURE_KVER]))

  const modinfo = makeModinfoTool({ release: () => FIXTURE_KVER, cwd: () => scratch })
  const files = moduleFiles(kdir)
  sameRun(t, 'modinfo of every fixture module', kmod(kmodBin.modinfo, [], files), await ours(modinfo, files))
  for (const opts of [['-0'], ['-p'], ['-F', 'parm'], ['-F', 'sig_key']]) {
    sameRun(t, `modinfo ${opts.join(' ')}`, kmod(kmodBin.modinfo, opts, files), await ours(modinfo, [...opts, ...files]))
  }
  const base = ['-b', kroot, '-k', FIXTURE_KVER]
  const lookups = ['alpha', 'beta-mod', 'gamma', 'virtio_pci', 'builtin_thing', 'bt-a-1', 'symbol:beta_fn', 'pci:v00001234d00000001sv0sd0bc0sc0i0',
    'pci:v00001AF4d00001000sv0sd0bc0sc0i0', 'outside', 'nothing', 'bad]']
  sameRun(t, 'modinfo lookups', kmod(kmodBin.modinfo, base, lookups), await ours(modinfo, [...base, ...lookups]))
  sameRun(t, 'modinfo -F name lookups', kmod(kmodBin.modinfo, [...base, '-F', 'name'], lookups), await ours(modinfo, [...base, '-F', 'name', ...lookups]))
})
