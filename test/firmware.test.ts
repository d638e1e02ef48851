// Firmware selection for images (src/image/firmware.ts, firmware-fs.ts): the kernel's search
// order over a fixture root (test/fixtures/firmware/root: updates/ and KVER directories,
// relative, absolute, chained, dangling and looping links, directory links, globs, a kernel
// config), compressed files made here with the xz and zstd programs, modinfo of module files in
// every compression, and Debian's real firmware-linux-free package against the firmware names
// of the real 6.1 modules.
import t, { type Test } from 'tap'
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import {
  builtinFirmware,
  describeMissing,
  firmwareSearchDirs,
  parseFirmwareDecompression,
  planFirmware,
  resolveInRoot,
  type FirmwareDecompression,
  type FirmwareFs,
  type FirmwarePlan,
  type ModuleFirmware,
  type NodeKind,
} from '../src/image/firmware.js'
import { builtinModuleFirmware, findFirmware, kernelFirmwareDecompression, moduleFirmware, nodeFirmwareFs } from '../src/image/firmware-fs.js'
import { parseBuiltinModinfo } from '../src/format/modules-builtin-modinfo.js'
import { buildElf, modinfoSection } from './fixtures/tools/elf-builder.js'
import { ensureHostTools } from '../qemu/deps.js'
import { ensureKernel } from '../qemu/kernels.js'
import { cacheDir } from '../qemu/paths.js'
import { run } from '../qemu/exec.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/firmware/root', import.meta.url))
const KVER = '6.1.0-fwtest'
const BOTH: FirmwareDecompression = { xz: true, zstd: true }

t.before(ensureHostTools) // the xz and zstd programs make the compressed fixtures

/** A private copy of the fixture root (links kept as they are), plus compressed files. */
function tree(t: Test): string {
  const dir = t.testdir()
  cpSync(FIXTURE, dir, { recursive: true, verbatimSymlinks: true })
  return dir
}

/** Write `text` at root/rel compressed with the xz or zstd program (root/rel.xz or .zst). */
function compressed(root: string, rel: string, kind: 'xz' | 'zstd', text: string): void {
  const file = path.join(root, rel)
  mkdirSync(path.dirname(file), { recursive: true })
  writeFileSync(file, text)
  execFileSync(kind, kind === 'xz' ? ['-q', '--check=crc32', file] : ['-q', '--rm', file])
}

function plan(root: string, wants: ModuleFirmware[], extra: { decompression?: FirmwareDecompression; extraPath?: string; exclude?: (m: string) => boolean } = {}): FirmwarePlan {
  return planFirmware(wants, { fs: nodeFirmwareFs, root, kver: KVER, decompression: BOTH, ...extra })
}

/** dest -> "-> target" for links, "xz:SRC" for build-time decompression, else SRC (relative to root). */
function show(root: string, p: FirmwarePlan): Record<string, string> {
  const rel = (s?: string): string => path.relative(root, s ?? '')
  return Object.fromEntries(p.files.map((f) => [f.dest, f.symlink !== undefined ? `-> ${f.symlink}` : f.decompress ? `${f.decompress}:${rel(f.src)}` : rel(f.src)]))
}

/** The image the plan describes, as a FirmwareFs: the kernel's view of /lib/firmware at boot. */
function imageFs(p: FirmwarePlan): FirmwareFs {
  const byPath = new Map(p.files.map((f) => [f.dest, f]))
  const dirs = new Set<string>()
  for (const f of p.files) for (let d = path.posix.dirname(f.dest); d !== '/'; d = path.posix.dirname(d)) dirs.add(d)
  return {
    lkind: (q): NodeKind | null => (byPath.has(q) ? (byPath.get(q)!.symlink !== undefined ? 'symlink' : 'file') : dirs.has(q) ? 'dir' : null),
    readlink: (q) => byPath.get(q)!.symlink!,
    readdir: () => [],
  }
}

/** What the kernel would read in the image for `name`: the host file behind it, or null. */
function loadInImage(p: FirmwarePlan, name: string): string | null {
  const r = resolveInRoot(imageFs(p), '/', `/lib/firmware/${name}`)
  if (r.kind !== 'file') return null
  const f = p.files.find((x) => x.dest === `/${r.real}`)!
  return f.src ?? null
}

const want = (module: string, ...firmware: string[]): ModuleFirmware => ({ module, firmware })

t.test('search directories, in the kernel order', async (t) => {
  t.same(firmwareSearchDirs('6.1.0-9-amd64').map((d) => d.path), [
    '/lib/firmware/updates/6.1.0-9-amd64',
    '/lib/firmware/updates',
    '/lib/firmware/6.1.0-9-amd64',
    '/lib/firmware',
  ])
  t.same(firmwareSearchDirs('K', '/opt/fw/')[0], { path: '/opt/fw', image: '/lib/firmware' }, 'firmware_class.path first, mapped to /lib/firmware')
  t.equal(firmwareSearchDirs('K').every((d) => d.path === d.image), true, 'the standard directories keep their paths')
})

t.test('plain files, updates/ and KVER precedence', async (t) => {
  const root = tree(t)
  const p = plan(root, [want('m', 'plain.bin', 'prec/a.bin', 'prec/b.bin', 'prec/c.bin', 'prec/d.bin')])
  t.same(show(root, p), {
    [`/lib/firmware/${KVER}/prec/c.bin`]: `lib/firmware/${KVER}/prec/c.bin`,
    '/lib/firmware/plain.bin': 'lib/firmware/plain.bin',
    '/lib/firmware/prec/d.bin': 'lib/firmware/prec/d.bin',
    [`/lib/firmware/updates/${KVER}/prec/a.bin`]: `lib/firmware/updates/${KVER}/prec/a.bin`,
    '/lib/firmware/updates/prec/b.bin': 'lib/firmware/updates/prec/b.bin',
  })
  t.same(p.missing, [])
  t.ok(p.files.every((f) => f.modules.join() === 'm'), 'each file names its module')
  t.same(p.files.map((f) => f.dest), p.files.map((f) => f.dest).sort(), 'sorted by dest')
})

t.test('firmware_class.path: searched first, lands in /lib/firmware', async (t) => {
  const root = tree(t)
  const p = plan(root, [want('m', 'plain.bin', 'extra-only.bin', 'prec/d.bin')], { extraPath: '/opt/extra' })
  t.same(show(root, p), {
    '/lib/firmware/extra-only.bin': 'opt/extra/extra-only.bin',
    '/lib/firmware/plain.bin': 'opt/extra/plain.bin',
    '/lib/firmware/prec/d.bin': 'lib/firmware/prec/d.bin',
  })
  t.same(plan(root, [want('m', 'extra-only.bin')]).missing, [{ module: 'm', names: ['extra-only.bin'] }], 'not searched without it')
})

t.test('symbolic links: kept as links with their targets, or copied when they leave', async (t) => {
  const root = tree(t)
  const names = ['vendor/rel-link.bin', 'vendor/up-link.bin', 'abs-link.bin', 'chain1.bin', 'dirlink/a.bin', 'vendor/sub/to-parent.bin', 'outside.bin', 'outdir/in-outdir.bin']
  const p = plan(root, [want('m', ...names)])
  t.same(show(root, p), {
    '/lib/firmware/abs-link.bin': '-> vendor/a.bin',
    '/lib/firmware/chain1.bin': '-> chain2.bin',
    '/lib/firmware/chain2.bin': '-> vendor/chain3.bin',
    '/lib/firmware/dirlink': '-> vendor',
    '/lib/firmware/outdir/in-outdir.bin': 'usr/share/fwdata/in-outdir.bin',
    '/lib/firmware/outside.bin': 'usr/share/fwdata/outside.bin',
    '/lib/firmware/plain.bin': 'lib/firmware/plain.bin',
    '/lib/firmware/vendor/a.bin': 'lib/firmware/vendor/a.bin',
    '/lib/firmware/vendor/chain3.bin': '-> a.bin',
    '/lib/firmware/vendor/rel-link.bin': '-> a.bin',
    '/lib/firmware/vendor/sub/to-parent.bin': '-> ../a.bin',
    '/lib/firmware/vendor/up-link.bin': '-> ../plain.bin',
  })
  t.same(p.missing, [])
  const expected: Record<string, string> = {
    'vendor/rel-link.bin': 'vendor-a\n',
    'vendor/up-link.bin': 'plain\n',
    'abs-link.bin': 'vendor-a\n',
    'chain1.bin': 'vendor-a\n',
    'dirlink/a.bin': 'vendor-a\n',
    'vendor/sub/to-parent.bin': 'vendor-a\n',
    'outside.bin': 'outside\n',
    'outdir/in-outdir.bin': 'outdir file\n',
  }
  for (const [name, text] of Object.entries(expected)) {
    const src = loadInImage(p, name)
    t.equal(src && readFileSync(src, 'utf8'), text, `the kernel finds ${name} in the image`)
  }
})

t.test('dangling links, loops, directories and bad names are not firmware', async (t) => {
  const root = tree(t)
  const bad = ['dangling.bin', 'loop1.bin', 'notfile.bin', 'out-abs.bin', '../lib/firmware/plain.bin', 'vendor/../plain.bin', '/lib/firmware/plain.bin', 'plain.bin/', 'globdir3/x.bin', 'nosuch.bin']
  const p = plan(root, [want('m', ...bad)])
  t.same(p.files, [])
  t.same(p.missing, [{ module: 'm', names: bad }])
  t.same(show(root, plan(root, [want('m', './vendor//a.bin')])), { '/lib/firmware/vendor/a.bin': 'lib/firmware/vendor/a.bin' }, "'.' and '//' in a name are harmless")
})

t.test('globs expand against every directory, per path component', async (t) => {
  const root = tree(t)
  compressed(root, 'lib/firmware/brcm/brcmfmac4366-pcie.bin', 'xz', '4366 xz\n')
  const p = plan(root, [want('brcmfmac', 'brcm/brcmfmac*-pcie.bin'), want('g', 'globdir*/x.bin'), want('none', 'nomatch*.bin', 'brcm/nomatch*')])
  t.same(show(root, p), {
    '/lib/firmware/brcm/brcmfmac4350-pcie.bin': 'lib/firmware/brcm/brcmfmac4350-pcie.bin',
    '/lib/firmware/brcm/brcmfmac4354-pcie.bin': '-> brcmfmac4350-pcie.bin',
    '/lib/firmware/brcm/brcmfmac4366-pcie.bin.xz': 'lib/firmware/brcm/brcmfmac4366-pcie.bin.xz',
    '/lib/firmware/globdir1/x.bin': 'lib/firmware/globdir1/x.bin',
    '/lib/firmware/globdir2/x.bin': 'lib/firmware/globdir2/x.bin',
    '/lib/firmware/updates/brcm/brcmfmac4356-pcie.bin': 'lib/firmware/updates/brcm/brcmfmac4356-pcie.bin',
  }, 'each match is looked up as a name: updates/ wins for 4356, .xz matched as its plain name')
  t.same(p.missing, [{ module: 'none', names: ['nomatch*.bin', 'brcm/nomatch*'] }])
})

t.test('compressed firmware: the kernel order, and decompression for a kernel without the kind', async (t) => {
  const root = tree(t)
  compressed(root, 'lib/firmware/cz/x.bin', 'xz', 'x text\n')
  compressed(root, 'lib/firmware/cz/y.bin', 'zstd', 'y text\n')
  compressed(root, 'lib/firmware/cz/both.bin', 'xz', 'both as xz\n')
  compressed(root, 'lib/firmware/cz/both.bin', 'zstd', 'both as zstd\n')
  writeFileSync(path.join(root, 'lib/firmware/cz/order.bin'), 'plain in /lib/firmware\n')
  compressed(root, 'lib/firmware/updates/cz/order.bin', 'xz', 'xz in updates\n')
  symlinkSync('x.bin.xz', path.join(root, 'lib/firmware/cz/link.bin.xz'))
  const names = ['cz/x.bin', 'cz/y.bin', 'cz/both.bin', 'cz/order.bin', 'cz/link.bin']

  t.same(show(root, plan(root, [want('m', ...names)])), {
    '/lib/firmware/cz/both.bin.zst': 'lib/firmware/cz/both.bin.zst',
    '/lib/firmware/cz/link.bin.xz': '-> x.bin.xz',
    '/lib/firmware/cz/order.bin': 'lib/firmware/cz/order.bin',
    '/lib/firmware/cz/x.bin.xz': 'lib/firmware/cz/x.bin.xz',
    '/lib/firmware/cz/y.bin.zst': 'lib/firmware/cz/y.bin.zst',
  }, 'xz and zstd kernel: .zst before .xz, any plain file before both, copied as they are')

  t.same(show(root, plan(root, [want('m', ...names)], { decompression: { xz: true, zstd: false } })), {
    '/lib/firmware/cz/both.bin.xz': 'lib/firmware/cz/both.bin.xz',
    '/lib/firmware/cz/link.bin.xz': '-> x.bin.xz',
    '/lib/firmware/cz/order.bin': 'lib/firmware/cz/order.bin',
    '/lib/firmware/cz/x.bin.xz': 'lib/firmware/cz/x.bin.xz',
    '/lib/firmware/cz/y.bin': 'zstd:lib/firmware/cz/y.bin.zst',
  }, 'xz-only kernel (Debian 6.1): .xz preferred, .zst decompressed')

  t.same(show(root, plan(root, [want('m', ...names)], { decompression: { xz: false, zstd: false } })), {
    '/lib/firmware/cz/both.bin': 'zstd:lib/firmware/cz/both.bin.zst',
    '/lib/firmware/cz/link.bin': 'xz:lib/firmware/cz/x.bin.xz',
    '/lib/firmware/cz/order.bin': 'lib/firmware/cz/order.bin',
    '/lib/firmware/cz/x.bin': 'xz:lib/firmware/cz/x.bin.xz',
    '/lib/firmware/cz/y.bin': 'zstd:lib/firmware/cz/y.bin.zst',
  }, 'no decompression in the kernel: everything stored plain')

  const found = await findFirmware([want('m', ...names)], { root, kver: KVER, decompression: { xz: false, zstd: false } })
  const text = Object.fromEntries(found.files.map((f) => [f.dest, f.data ? f.data().toString() : readFileSync(f.src!, 'utf8')]))
  t.same(text, {
    '/lib/firmware/cz/both.bin': 'both as zstd\n',
    '/lib/firmware/cz/link.bin': 'x text\n',
    '/lib/firmware/cz/order.bin': 'plain in /lib/firmware\n',
    '/lib/firmware/cz/x.bin': 'x text\n',
    '/lib/firmware/cz/y.bin': 'y text\n',
  }, 'findFirmware decompresses at build time')
  t.ok(found.files.every((f) => (f.data === undefined) !== (f.src === undefined)), 'each entry has either data or src')

  const auto = await findFirmware([want('m', 'cz/y.bin', 'cz/x.bin')], { root, kver: KVER })
  t.same(auto.files.map((f) => [f.dest, f.data ? 'data' : 'src']), [
    ['/lib/firmware/cz/x.bin.xz', 'src'],
    ['/lib/firmware/cz/y.bin', 'data'],
  ], 'by default the kernel config under root decides (boot/config-KVER: xz only)')
})

t.test('missing firmware grouped by module; exclude; shared files name every module', async (t) => {
  const root = tree(t)
  const p = plan(root, [want('b_mod', 'plain.bin', 'gone-1.bin'), want('a_mod', 'gone-2.bin', 'plain.bin', 'gone-2.bin'), want('c_mod', 'vendor/a.bin'), want('gpu', 'gpu/huge.bin', 'plain.bin')], {
    exclude: (m) => m === 'gpu',
  })
  t.same(p.missing, [
    { module: 'a_mod', names: ['gone-2.bin'] },
    { module: 'b_mod', names: ['gone-1.bin'] },
  ])
  t.same(Object.fromEntries(p.files.map((f) => [f.dest, f.modules])), {
    '/lib/firmware/plain.bin': ['a_mod', 'b_mod'],
    '/lib/firmware/vendor/a.bin': ['c_mod'],
  }, 'excluded modules neither add files nor count as missing')
  t.equal(
    describeMissing(p.missing, KVER),
    `firmware not found for 2 modules (searched /lib/firmware/updates/${KVER}, /lib/firmware/updates, /lib/firmware/${KVER}, /lib/firmware, also as .zst and .xz): a_mod: gone-2.bin; b_mod: gone-1.bin`,
  )
})

t.test('kernel config: which compressed kinds the firmware loader reads', async (t) => {
  const c = (...lines: string[]): string => lines.join('\n') + '\n'
  t.same(parseFirmwareDecompression(c('CONFIG_FW_LOADER_COMPRESS=y', 'CONFIG_FW_LOADER_COMPRESS_XZ=y', '# CONFIG_FW_LOADER_COMPRESS_ZSTD is not set')), { xz: true, zstd: false }, '6.1')
  t.same(parseFirmwareDecompression(c('CONFIG_FW_LOADER_COMPRESS=y', 'CONFIG_FW_LOADER_COMPRESS_XZ=y', 'CONFIG_FW_LOADER_COMPRESS_ZSTD=y')), { xz: true, zstd: true }, '6.12')
  t.same(parseFirmwareDecompression(c('CONFIG_FW_LOADER=y', 'CONFIG_FW_LOADER_COMPRESS=y')), { xz: true, zstd: false }, 'before 5.19 COMPRESS alone meant xz')
  t.same(parseFirmwareDecompression(c('CONFIG_FW_LOADER=y', '# CONFIG_FW_LOADER_COMPRESS is not set')), { xz: false, zstd: false })

  const root = tree(t)
  t.same(kernelFirmwareDecompression(root, KVER), { xz: true, zstd: false }, 'boot/config-KVER')
  t.same(kernelFirmwareDecompression(root, '6.1.0-fwbuild'), { xz: false, zstd: true }, 'lib/modules/KVER/build/.config through an absolute link, inside root')
  t.equal(kernelFirmwareDecompression(root, '9.9.9'), undefined, 'unknown')
})

t.test('firmware= of module files in every compression, and of built-in modules', async (t) => {
  const dir = t.testdir()
  const ko = (...fw: string[]): Buffer => buildElf({ sections: [{ name: '.modinfo', data: modinfoSection(['license=GPL', ...fw.map((f) => `firmware=${f}`), 'vermagic=6.1.0 SMP']) }] })
  writeFileSync(`${dir}/plain-one.ko`, ko('a.bin', 'b/c.bin'))
  writeFileSync(`${dir}/xz_one.ko`, ko('x.bin'))
  execFileSync('xz', ['-q', '--check=crc32', `${dir}/xz_one.ko`])
  writeFileSync(`${dir}/zst_one.ko`, ko('z.bin'))
  execFileSync('zstd', ['-q', '--rm', `${dir}/zst_one.ko`])
  writeFileSync(`${dir}/gz_one.ko.gz`, gzipSync(ko('g*.bin')))
  writeFileSync(`${dir}/none.ko`, ko())
  const files = readdirSync(dir).sort().map((f) => `${dir}/${f}`)
  t.same(await moduleFirmware(files, 2), [
    { module: 'gz_one', firmware: ['g*.bin'] },
    { module: 'none', firmware: [] },
    { module: 'plain_one', firmware: ['a.bin', 'b/c.bin'] },
    { module: 'xz_one', firmware: ['x.bin'] },
    { module: 'zst_one', firmware: ['z.bin'] },
  ].filter((m) => m.firmware.length), 'names from the file, in input order, modules without firmware left out')
  t.same(await moduleFirmware([{ module: 'given', path: `${dir}/plain-one.ko` }]), [{ module: 'given', firmware: ['a.bin', 'b/c.bin'] }])
  await t.rejects(moduleFirmware([`${dir}/nosuch.ko`]), { code: 'ENOENT' })

  const modinfo = ['virtio_pci.alias=pci:v00001AF4d*', 'i915.firmware=i915/a.bin', 'i915.firmware=i915/b.bin', 'i915.license=GPL', 'e100.firmware=e100/d101m_ucode.bin', ''].join('\0')
  t.same(builtinFirmware(parseBuiltinModinfo(modinfo)), [
    { module: 'i915', firmware: ['i915/a.bin', 'i915/b.bin'] },
    { module: 'e100', firmware: ['e100/d101m_ucode.bin'] },
  ])
  t.same(builtinFirmware(parseBuiltinModinfo(modinfo), ['e100', 'virtio_pci']), [{ module: 'e100', firmware: ['e100/d101m_ucode.bin'] }])
  mkdirSync(`${dir}/root/lib/modules/K`, { recursive: true })
  writeFileSync(`${dir}/root/lib/modules/K/modules.builtin.modinfo`, modinfo)
  t.same(builtinModuleFirmware(`${dir}/root`, 'K', ['i915']), [{ module: 'i915', firmware: ['i915/a.bin', 'i915/b.bin'] }])
  t.same(builtinModuleFirmware(`${dir}/root`, 'none'), [], 'no modules.builtin.modinfo: nothing built in')
})

/** Debian's firmware-linux-free, unpacked under .cache (downloaded once); a reason to skip when apt cannot get it. */
async function firmwareLinuxFree(): Promise<{ root: string } | { skip: string }> {
  const debs = path.join(cacheDir, 'firmware', 'debs')
  mkdirSync(debs, { recursive: true })
  let deb = readdirSync(debs).find((f) => f.startsWith('firmware-linux-free_') && f.endsWith('.deb'))
  if (!deb) {
    const tmp = path.join(debs, `download-${process.pid}`)
    mkdirSync(tmp, { recursive: true })
    try {
      const r = await run('apt-get', ['download', 'firmware-linux-free'], { cwd: tmp, nothrow: true })
      const got = readdirSync(tmp).find((f) => f.endsWith('.deb'))
      if (r.exitCode !== 0 || !got) return { skip: `apt-get download firmware-linux-free failed, apt cannot reach Debian's archive: ${r.stderr.trim().split('\n').at(-1)}` }
      cpSync(path.join(tmp, got), path.join(debs, got))
      deb = got
    } finally {
      rmSync(tmp, { recursive: true, force: true })
    }
  }
  const root = path.join(cacheDir, 'tmp', `firmware-linux-free-${process.pid}`)
  rmSync(root, { recursive: true, force: true })
  mkdirSync(root, { recursive: true })
  await run('dpkg', ['-x', path.join(debs, deb), root])
  return { root }
}

/** Every file below dir, relative to it. */
function filesBelow(dir: string, prefix = ''): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...filesBelow(path.join(dir, e.name), `${prefix}${e.name}/`))
    else out.push(`${prefix}${e.name}`)
  }
  return out
}

const pkg = await firmwareLinuxFree()
if ('root' in pkg) t.teardown(() => rmSync(pkg.root, { recursive: true, force: true }))

t.test("Debian's firmware-linux-free against the firmware names of the real 6.1 modules", { skip: 'skip' in pkg && pkg.skip }, async (t) => {
  if (!('root' in pkg)) return
  const kernel = await ensureKernel('6.1')
  const kos = filesBelow(kernel.modulesDir).filter((f) => /\.ko(\.(xz|zst|gz))?$/.test(f)).map((f) => path.join(kernel.modulesDir, f))
  const wants = await moduleFirmware(kos)
  t.ok(wants.length > 100, `${wants.length} of ${kos.length} modules declare firmware`)
  t.same(wants.find((w) => w.module === 'carl9170')?.firmware, ['carl9170-1.fw'], 'carl9170 declares its firmware')

  const provided = new Set(filesBelow(path.join(pkg.root, 'lib/firmware')))
  const served = wants.map((w) => ({ module: w.module, firmware: w.firmware.filter((n) => provided.has(n)) })).filter((w) => w.firmware.length)
  const names = new Set(served.flatMap((w) => w.firmware))
  t.ok(names.size >= 10, `${names.size} names the package provides are declared by ${served.length} modules`)

  const found = await findFirmware(wants, { root: pkg.root, kver: kernel.version })
  const dests = new Set(found.files.map((f) => f.dest))
  const lost = [...names].filter((n) => !dests.has(`/lib/firmware/${n}`))
  t.same(lost, [], 'every provided name is found')
  t.ok(found.files.every((f) => f.src && f.src.startsWith(`${pkg.root}/lib/firmware/`)), 'copied from the package')
  t.notOk(found.missing.some((m) => m.names.some((n) => names.has(n))), 'none of them reported missing')
  const missingNames = new Set(found.missing.flatMap((m) => m.names))
  t.ok(missingNames.size > 100, `names the package does not have are reported missing (${missingNames.size})`)
  const isci = found.files.find((f) => f.dest === '/lib/firmware/isci/isci_firmware.bin')
  t.same(isci?.modules, ['isci'], 'the file names its module')
})
