import t from 'tap'
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import { mkinitramfs, checkCompression, defaultRuntimeCompression } from '../src/initramfs/mkinitramfs.js'
import { parseSelectors } from '../src/image/select.js'
import { readCpio } from '../src/initramfs/cpio.js'
import { buildModuleDbFromBin } from '../src/core/moddb-bin.js'
import { lookupNames } from '../src/core/lookup.js'

const root = fileURLToPath(new URL('./fixtures/tree', import.meta.url))
const kver = '6.1.0-test'

t.test('named modules with their closure, trimmed indexes, reproducible', async (t) => {
  const dir = t.testdir()
  const opts = { init: '/bin/true', kernelRoot: root, kver, selectors: parseSelectors(['fs-ext4', 'virtio_pci']), compress: 'gzip' as const, moduleFiles: 'archive' as const, mtime: 0, configRoot: null }
  const r = await mkinitramfs({ ...opts, output: `${dir}/a.img` })
  t.same(r.selection.modules.map((m) => m.name), ['ext4', 'jbd2'])
  t.same(r.selection.builtin.map((m) => m.name), ['virtio_pci'])
  t.equal(r.sizes.modules, 28 + 28, 'the two module files')
  t.ok(r.sizes.runtime > 0 && r.sizes.indexes > 0)
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
    init: '/bin/true', kernelRoot: root, kver, selectors: parseSelectors(['all']), compress: 'none', mtime: 0, output: `${dir}/x.img`, configRoot: null,
    add: [{ src: `${dir}/junk.ko`, dest: `/lib/modules/${kver}/kernel/fs/jbd2/jbd2.ko` }],
  })
  t.equal(r.selection.modules.length, 5)
  const files = readCpio(readFileSync(`${dir}/x.img`))
  t.equal(Buffer.from(files.find((f) => f.path.endsWith('jbd2.ko'))!.data).toString(), 'not a module', '--add replaces')
})

t.test('unknown module is a clear error', async (t) => {
  const dir = t.testdir()
  await t.rejects(
    mkinitramfs({ init: '/bin/true', kernelRoot: root, kver, selectors: parseSelectors(['nosuch']), compress: 'none', mtime: 0, output: `${dir}/x` }),
    /module nosuch: not found in .*lib\/modules\/6.1.0-test/,
  )
  await t.rejects(
    mkinitramfs({ init: '/bin/true', kernelRoot: root, kver: '9.9', selectors: parseSelectors(['all']), compress: 'none', mtime: 0, output: `${dir}/x` }),
    /modules\.dep: not found \(run "depmod/,
  )
})

t.test('a modules.dep entry leading out of the tree is refused, not copied into the image', async (t) => {
  const { mkdirSync, writeFileSync, existsSync } = await import('node:fs')
  const dir = t.testdir()
  const md = `${dir}/tree/lib/modules/${kver}`
  mkdirSync(`${md}/kernel`, { recursive: true })
  writeFileSync(`${dir}/secret.ko`, 'host file')
  writeFileSync(`${md}/kernel/good.ko`, 'x')
  writeFileSync(`${md}/modules.dep`, 'kernel/good.ko:\n../../../../secret.ko:\n')
  const opts = { init: '/bin/true', kernelRoot: `${dir}/tree`, kver, compress: 'none' as const, mtime: 0, output: `${dir}/x.img` }
  await t.rejects(mkinitramfs({ ...opts, selectors: parseSelectors(['secret']) }), /modules\.dep: the entry "\.\.\/\.\.\/\.\.\/\.\.\/secret\.ko" leads to .*secret\.ko, outside the module directory/)
  t.notOk(existsSync(`${dir}/x.img`), 'no image written')
  await mkinitramfs({ ...opts, selectors: parseSelectors(['good']) })
  t.ok(existsSync(`${dir}/x.img`), 'the good module alone is fine')
})

t.test('softdeps, firmware, host config and the default command line go in', async (t) => {
  const { buildElf, modinfoSection } = await import('./fixtures/tools/elf-builder.js')
  const { mkdirSync, writeFileSync, existsSync, readdirSync } = await import('node:fs')
  const ko = (info: string[]) => buildElf({ sections: [{ name: '.modinfo', data: modinfoSection(info) }] })
  const dir = t.testdir()
  const tree = `${dir}/tree`
  const md = `${tree}/lib/modules/${kver}`
  for (const d of ['kernel/drivers/net/ethernet', 'kernel/fs/ext4', 'kernel/fs/jbd2', 'kernel/crypto', 'kernel/drivers/block']) mkdirSync(`${md}/${d}`, { recursive: true })
  writeFileSync(`${md}/kernel/drivers/net/ethernet/nicfw.ko`, ko(['firmware=nic/fw.bin', 'firmware=nic/missing.bin', 'alias=pci:v00001234d*']))
  writeFileSync(`${md}/kernel/fs/ext4/ext4.ko`, ko(['alias=fs-ext4']))
  writeFileSync(`${md}/kernel/fs/jbd2/jbd2.ko`, ko([]))
  writeFileSync(`${md}/kernel/crypto/crc32c_generic.ko`, ko(['alias=crypto-crc32c']))
  writeFileSync(`${md}/kernel/drivers/block/floppy.ko`, ko([]))
  writeFileSync(`${md}/modules.dep`, 'kernel/drivers/net/ethernet/nicfw.ko:\nkernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko\nkernel/fs/jbd2/jbd2.ko:\nkernel/crypto/crc32c_generic.ko:\nkernel/drivers/block/floppy.ko:\n')
  writeFileSync(`${md}/modules.alias`, 'alias pci:v00001234d* nicfw\nalias fs-ext4 ext4\nalias crypto-crc32c crc32c_generic\n')
  writeFileSync(`${md}/modules.softdep`, 'softdep ext4 pre: crypto-crc32c\n')
  mkdirSync(`${tree}/lib/firmware/nic`, { recursive: true })
  writeFileSync(`${tree}/lib/firmware/nic/fw.bin`, 'FIRMWARE')
  mkdirSync(`${tree}/boot`)
  writeFileSync(`${tree}/boot/config-${kver}`, 'CONFIG_RD_GZIP=y\n# CONFIG_RD_ZSTD is not set\nCONFIG_RD_XZ=y\n')
  const host = `${dir}/host`
  mkdirSync(`${host}/etc/modprobe.d`, { recursive: true })
  mkdirSync(`${host}/etc/modules-load.d`, { recursive: true })
  writeFileSync(`${host}/etc/modprobe.d/a.conf`, '# comment\noptions ext4 x=1\noptions floppy y=2\nalias my-nic nicfw\n')
  writeFileSync(`${host}/etc/modules-load.d/m.conf`, 'ext4\nfloppy\n')

  const base = { init: '/bin/true', kernelRoot: tree, kver, compress: 'gzip' as const, mtime: 0, configRoot: host, cmdline: ['modload.debug', 'quiet'] }
  const r = await mkinitramfs({ ...base, selectors: parseSelectors(['ext4', 'nicfw']), output: `${dir}/a.img` })
  t.same(r.selection.modules.map((m) => m.name), ['crc32c_generic', 'ext4', 'jbd2', 'nicfw'], 'ext4 brings its softdep crc32c')
  t.same(r.missingFirmware, [{ module: 'nicfw', names: ['nic/missing.bin'] }])
  const files = new Map(readCpio(gunzipSync(readFileSync(`${dir}/a.img`))).map((f) => [f.path, Buffer.from(f.data).toString()]))
  t.equal(files.get('lib/firmware/nic/fw.bin'), 'FIRMWARE')
  t.equal(files.get('etc/modprobe.d/a.conf'), 'options ext4 x=1\nalias my-nic nicfw\n', 'modprobe.d trimmed to what is inside')
  t.equal(files.get('etc/modules-load.d/m.conf'), 'ext4\n', 'modules-load.d trimmed')
  t.match(files.get('etc/modload/cmdline'), /^# .*\nmodload.debug quiet\n$/, 'the default command line, quoted as the kernel reads it')
  t.ok(r.sizes.firmware === 8 && r.firmware.length === 1)

  const noNet = await mkinitramfs({ ...base, selectors: parseSelectors(['nicfw']), firmware: { enabled: true, excludeClasses: ['net'] }, output: `${dir}/b.img` })
  t.same([noNet.firmware.length, noNet.missingFirmware.length], [0, 0], 'firmware of a class left out')
  await t.rejects(mkinitramfs({ ...base, selectors: parseSelectors(['nicfw']), firmware: { enabled: true, strict: true }, output: `${dir}/c.img` }), /firmware not found for 1 module .*nicfw: nic\/missing.bin/)
  t.notOk(existsSync(`${dir}/c.img`), 'no image after an error')
  await t.rejects(mkinitramfs({ ...base, selectors: parseSelectors(['nicfw']), compress: 'zstd', output: `${dir}/d.img` }), /boot\/config-6.1.0-test: CONFIG_RD_ZSTD is not set, so this kernel cannot unpack a zstd image; choose --compress none, gzip, xz/)
  t.same(readdirSync(dir).filter((n) => n.includes('.tmp-')), [], 'no temporary files left')

  const facts = { devices: [{ path: 'devices/pci0000:00/0000:00:02.0', modalias: 'pci:v00001234d00005678sv0sd0bc02sc00i00' }], loaded: [], builtinBound: [], root: { source: '/dev/sda1', fstype: 'ext4', modules: [] } }
  const h = await mkinitramfs({ ...base, selectors: parseSelectors(['host']), host: facts, output: `${dir}/e.img` })
  t.same(h.selection.modules.map((m) => m.name), ['crc32c_generic', 'ext4', 'jbd2', 'nicfw'])
  const he = new Map(readCpio(gunzipSync(readFileSync(`${dir}/e.img`))).map((f) => [f.path, Buffer.from(f.data).toString()]))
  t.equal(he.get('etc/modload/root-modules'), 'ext4\n', "the root's filesystem, for init to load first")
})

t.test('compression against the kernel config', async (t) => {
  t.doesNotThrow(() => checkCompression('zstd', null), 'unknown config: trust the user')
  t.doesNotThrow(() => checkCompression('none', { path: 'c', text: '' }))
  t.doesNotThrow(() => checkCompression('lz4', { path: 'c', text: 'CONFIG_RD_LZ4=y\n' }))
  t.throws(() => checkCompression('lz4', { path: 'c', text: 'CONFIG_RD_LZ4=m\n' }), /c: CONFIG_RD_LZ4 is not set/)
})

t.test('the runtime in an archive of its own (--compress-runtime)', async (t) => {
  const dir = t.testdir()
  const r = await mkinitramfs({ init: '/bin/true', kernelRoot: root, kver, selectors: parseSelectors(['fs-ext4']), compress: 'gzip', compressRuntime: 'none', moduleFiles: 'archive', mtime: 0, configRoot: null, output: `${dir}/s.img` })
  const img = readFileSync(`${dir}/s.img`)
  t.equal(img.subarray(0, 6).toString(), '070701', 'an uncompressed archive first')
  const gz = img.indexOf(Buffer.from([0x1f, 0x8b, 0x08]))
  t.ok(gz > 0 && gz % 4 === 0, 'then a gzip stream, on a 4-byte boundary')
  const first = readCpio(img.subarray(0, gz)).map((f) => f.path)
  const second = readCpio(gunzipSync(img.subarray(gz))).map((f) => f.path)
  t.ok(first.includes('init') && first.includes('usr/lib/modload/modprobe'), 'the executable and its tool links')
  t.ok(first.some((p) => p.endsWith('/libc.so.6')) && first.includes('lib64/ld-linux-x86-64.so.2'), 'its libraries')
  t.notOk(first.some((p) => p.endsWith('.ko')), 'no module in the runtime archive')
  t.ok(second.includes(`lib/modules/${kver}/kernel/fs/ext4/ext4.ko`) && second.includes('dev/console'), 'the rest in the second')
  t.same(first.filter((p) => second.includes(p)), [], 'no entry twice')
  t.equal(r.bytes, img.length)
})

t.test('module files each compressed, in an archive of their own; the root chain plain with the indexes', async (t) => {
  const { zstdDecompressSync } = (await import('node:zlib')) as unknown as { zstdDecompressSync?: (b: Uint8Array) => Buffer }
  const { execFileSync } = await import('node:child_process')
  const unzstd = (b: Uint8Array): Buffer => (zstdDecompressSync ? zstdDecompressSync(b) : execFileSync('zstd', ['-dc'], { input: b }))
  const dir = t.testdir()
  // the root is ext4: ext4 and its dependency jbd2 are the root's chain; virtio_net and its two
  // dependencies are not
  const host = { devices: [], loaded: ['virtio_net'], builtinBound: [], root: { source: '/dev/vda1', fstype: 'ext4', modules: [] } }
  const base = { init: '/bin/true', kernelRoot: root, kver, selectors: parseSelectors(['host']), host, compress: 'gzip' as const, compressRuntime: 'none' as const, mtime: 0, configRoot: null }
  const r = await mkinitramfs({ ...base, output: `${dir}/e.img` })
  t.same(r.selection.modules.map((m) => m.name).sort(), ['ext4', 'failover', 'jbd2', 'net_failover', 'virtio_net'])
  const img = readFileSync(`${dir}/e.img`)
  const gz = img.indexOf(Buffer.from([0x1f, 0x8b, 0x08]))
  const third = img.indexOf(Buffer.from('070701'), gz)
  t.ok(gz > 0 && third > gz && third % 4 === 0, 'runtime, then gzip, then an uncompressed archive on a 4-byte boundary')
  const second = new Map(readCpio(gunzipSync(img.subarray(gz, third))).map((f) => [f.path, f.data]))
  const stored = new Map(readCpio(img.subarray(third)).map((f) => [f.path, f.data]))
  const md = `lib/modules/${kver}`
  t.ok(second.has(`${md}/kernel/fs/ext4/ext4.ko`) && second.has(`${md}/kernel/fs/jbd2/jbd2.ko`), "the root's chain, uncompressed, in the compressed archive")
  t.same([...stored.keys()].sort(), ['kernel/drivers/net/net_failover.ko.zst', 'kernel/drivers/net/virtio_net.ko.zst', 'kernel/net/core/failover.ko.zst'].map((p) => `${md}/${p}`), 'the rest, each compressed, alone in the last archive')
  const original = readFileSync(`${root}/${md}/kernel/drivers/net/virtio_net.ko`)
  t.ok(unzstd(stored.get(`${md}/kernel/drivers/net/virtio_net.ko.zst`)!).equals(original), 'zstd of the original bytes')
  const dep = Buffer.from(second.get(`${md}/modules.dep`)!).toString()
  t.match(dep, /^kernel\/drivers\/net\/virtio_net\.ko\.zst: kernel\/drivers\/net\/net_failover\.ko\.zst kernel\/net\/core\/failover\.ko\.zst$/m, 'modules.dep names the stored files')
  t.match(dep, /^kernel\/fs\/ext4\/ext4\.ko: kernel\/fs\/jbd2\/jbd2\.ko$/m)
  const bin = (n: string) => second.get(`${md}/${n}`)
  const db = buildModuleDbFromBin(`/lib/modules/${kver}`, { depBin: bin('modules.dep.bin')!, aliasBin: bin('modules.alias.bin'), builtinBin: bin('modules.builtin.bin') })
  t.equal(db.modules.get('virtio_net')?.path, 'kernel/drivers/net/virtio_net.ko.zst', 'and so does modules.dep.bin')
  t.ok(r.sizes.modules < 5 * 28 + 100, `sizes as stored (${r.sizes.modules} bytes)`)
  t.same([...r.separate].sort(), [...stored.keys()].map((p) => `/${p}`).sort())

  // a tree whose modules are compressed (Debian 6.12: .ko.xz): zstd in the image too
  const { mkdirSync, writeFileSync } = await import('node:fs')
  const { gzipSync } = await import('node:zlib')
  const tree = `${dir}/xztree`
  const xmd = `${tree}/lib/modules/${kver}/kernel`
  mkdirSync(xmd, { recursive: true })
  const alpha = Buffer.from('\x7fELF alpha module bytes '.repeat(20))
  const beta = Buffer.from('\x7fELF beta module bytes '.repeat(20))
  writeFileSync(`${xmd}/alpha.ko.xz`, execFileSync('xz', ['-c', '--check=crc32'], { input: alpha }))
  writeFileSync(`${xmd}/beta.ko.gz`, gzipSync(beta))
  writeFileSync(`${tree}/lib/modules/${kver}/modules.dep`, 'kernel/alpha.ko.xz: kernel/beta.ko.gz\nkernel/beta.ko.gz:\n')
  const x = await mkinitramfs({ ...base, kernelRoot: tree, selectors: parseSelectors(['alpha']), host: undefined, output: `${dir}/x.img` })
  const ximg = readFileSync(`${dir}/x.img`)
  const xstored = new Map(readCpio(ximg.subarray(ximg.indexOf(Buffer.from('070701'), ximg.indexOf(Buffer.from([0x1f, 0x8b, 0x08]))))).map((f) => [f.path, f.data]))
  t.ok(unzstd(xstored.get(`${md}/kernel/alpha.ko.zst`)!).equals(alpha), '.ko.xz stored as .ko.zst of the same module')
  t.ok(unzstd(xstored.get(`${md}/kernel/beta.ko.zst`)!).equals(beta), '.ko.gz too')
  t.equal(x.separate.size, 2)

  // --add over a module's path replaces that module, compressed one by one or not
  const { writeFileSync: write } = await import('node:fs')
  write(`${dir}/patched.ko`, 'a patched virtio_net')
  const patched = await mkinitramfs({ ...base, add: [{ src: `${dir}/patched.ko`, dest: `/${md}/kernel/drivers/net/virtio_net.ko` }], output: `${dir}/p.img` })
  t.notOk(patched.separate.has(`/${md}/kernel/drivers/net/virtio_net.ko.zst`), 'the replaced module is not stored compressed beside it')
  const pimg = readFileSync(`${dir}/p.img`)
  const pmain = new Map(readCpio(gunzipSync(pimg.subarray(pimg.indexOf(Buffer.from([0x1f, 0x8b, 0x08]))))).map((f) => [f.path, f.data]))
  t.equal(Buffer.from(pmain.get(`${md}/kernel/drivers/net/virtio_net.ko`)!).toString(), 'a patched virtio_net', 'the added file is the module')
  t.match(Buffer.from(pmain.get(`${md}/modules.dep`)!).toString(), /^kernel\/drivers\/net\/virtio_net\.ko: /m, 'and modules.dep names it')

  const plain = await mkinitramfs({ ...base, compress: 'none', output: `${dir}/n.img` })
  t.equal(plain.separate.size, 0, 'an uncompressed image keeps the modules as they are')
  const archive = await mkinitramfs({ ...base, moduleFiles: 'archive', output: `${dir}/a.img` })
  t.equal(archive.separate.size, 0, 'moduleFiles archive: as before')
})

t.test('the runtime goes lz4 by default only where the kernel says it unpacks lz4', async (t) => {
  const lz4 = { text: 'CONFIG_RD_ZSTD=y\nCONFIG_RD_LZ4=y\n' }
  t.equal(defaultRuntimeCompression('zstd', lz4), 'lz4')
  t.equal(defaultRuntimeCompression('xz', lz4), 'lz4')
  t.equal(defaultRuntimeCompression('lz4', lz4), undefined, 'already lz4: one archive')
  t.equal(defaultRuntimeCompression('none', lz4), undefined)
  t.equal(defaultRuntimeCompression('zstd', { text: 'CONFIG_RD_ZSTD=y\n# CONFIG_RD_LZ4 is not set\n' }), undefined)
  t.equal(defaultRuntimeCompression('zstd', null), undefined, 'no config: nothing assumed')
})
