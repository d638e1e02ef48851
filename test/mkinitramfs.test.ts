import t from 'tap'
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import { mkinitramfs } from '../src/initramfs/mkinitramfs.js'
import { readCpio } from '../src/initramfs/cpio.js'
import { buildModuleDbFromBin } from '../src/core/moddb-bin.js'
import { lookupNames } from '../src/core/lookup.js'

const root = fileURLToPath(new URL('./fixtures/tree', import.meta.url))
const kver = '6.1.0-test'

t.test('named modules with their closure, trimmed indexes, reproducible', async (t) => {
  const dir = t.testdir()
  const opts = { init: '/bin/true', kernelRoot: root, kver, modules: ['fs-ext4', 'virtio_pci'], compress: 'gzip' as const, mtime: 0 }
  const r = await mkinitramfs({ ...opts, output: `${dir}/a.img` })
  t.same(r.modules, ['ext4', 'jbd2'])
  t.same(r.builtin, ['virtio_pci'])
  const files = readCpio(gunzipSync(readFileSync(`${dir}/a.img`)))
  const byPath = new Map(files.map((f) => [f.path, f]))
  t.ok(byPath.has('init'))
  t.notOk(byPath.has('sbin/modprobe'), 'no /sbin/modprobe for the kernel to run before init')
  t.ok(byPath.has('lib64/ld-linux-x86-64.so.2'), 'dynamic loader')
  t.ok([...byPath.keys()].some((p) => p.endsWith('/libc.so.6')), 'libc')
  t.same(byPath.get('dev/console')?.rdev, [5, 1])
  t.equal(Buffer.from(byPath.get('usr/lib/modload/modprobe')!.data).toString(), '/init')
  t.ok(byPath.has(`lib/modules/${kver}/kernel/fs/ext4/ext4.ko`))
  t.notOk(byPath.has(`lib/modules/${kver}/kernel/drivers/net/virtio_net.ko`))
  t.equal(Buffer.from(byPath.get(`lib/modules/${kver}/modules.dep`)!.data).toString(), 'kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko\nkernel/fs/jbd2/jbd2.ko:\n')
  t.equal(Buffer.from(byPath.get(`lib/modules/${kver}/modules.alias`)!.data).toString(), '# Aliases extracted from modules themselves.\nalias fs-ext4 ext4\nalias ext3 ext4\n')
  // the binary indexes the loader reads are made from the trimmed texts
  const bin = (n: string) => byPath.get(`lib/modules/${kver}/${n}`)?.data
  const db = buildModuleDbFromBin(`/lib/modules/${kver}`, { depBin: bin('modules.dep.bin')!, aliasBin: bin('modules.alias.bin'), builtinBin: bin('modules.builtin.bin') })
  t.same(lookupNames(db, null, 'fs-ext4'), ['ext4'], 'modules.alias.bin')
  t.same(lookupNames(db, null, 'virtio:d00000001v00001AF4'), [], 'trimmed: virtio_net is not in the image')
  t.same(db.modules.get('ext4')?.deps, ['kernel/fs/jbd2/jbd2.ko'], 'modules.dep.bin')
  t.ok(db.builtin.has('virtio_pci'), 'modules.builtin.bin')
  const paths = files.map((f) => f.path)
  t.same(paths, [...paths].sort(), 'entries sorted')
  for (const p of paths) {
    const parent = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : ''
    if (parent) t.ok(byPath.has(parent), `parent of ${p} present`)
  }
  await mkinitramfs({ ...opts, output: `${dir}/b.img` })
  t.ok(readFileSync(`${dir}/b.img`).equals(readFileSync(`${dir}/a.img`)), 'same inputs, same bytes')
  await mkinitramfs({ ...opts, mtime: 1700000000, output: `${dir}/c.img` })
  t.notOk(readFileSync(`${dir}/c.img`).equals(readFileSync(`${dir}/a.img`)), 'mtime is honoured')
})

t.test('all modules, uncompressed, extra file', async (t) => {
  const dir = t.testdir({ 'junk.ko': 'not a module' })
  const r = await mkinitramfs({
    init: '/bin/true', kernelRoot: root, kver, modules: 'all', compress: 'none', mtime: 0, output: `${dir}/x.img`,
    add: [{ src: `${dir}/junk.ko`, dest: `/lib/modules/${kver}/kernel/fs/jbd2/jbd2.ko` }],
  })
  t.equal(r.modules.length, 5)
  const files = readCpio(readFileSync(`${dir}/x.img`))
  t.equal(Buffer.from(files.find((f) => f.path.endsWith('jbd2.ko'))!.data).toString(), 'not a module', '--add replaces')
})

t.test('unknown module is a clear error', async (t) => {
  const dir = t.testdir()
  await t.rejects(
    mkinitramfs({ init: '/bin/true', kernelRoot: root, kver, modules: ['nosuch'], compress: 'none', mtime: 0, output: `${dir}/x` }),
    /module nosuch not found in .*lib\/modules\/6.1.0-test/,
  )
  await t.rejects(
    mkinitramfs({ init: '/bin/true', kernelRoot: root, kver: '9.9', modules: 'all', compress: 'none', mtime: 0, output: `${dir}/x` }),
    /modules\.dep: not found \(run "depmod/,
  )
})
