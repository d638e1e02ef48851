// The CPU's implementation of the module signature hash: found from the tree (core), read from
// a module's own signature (load/signature-first.ts), taken by the host selector and stored
// with the root's chain (image), loaded first (init).
import t from 'tap'
import { cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildModuleDb } from '../src/core/moddb.js'
import { cpuMatchedModules, formatSignatureFirst, hashAccelerators, loadableFirst, parseSignatureFirst } from '../src/core/signature-hash.js'
import { findSignatureAccelerators, loadFirst, readCpuModalias } from '../src/load/signature-first.js'
import { describeReasons, parseSelectors, selectModules, type HostNeeds } from '../src/image/select.js'
import { mkinitramfs, rootChainClosure } from '../src/initramfs/mkinitramfs.js'
import { readCpio } from '../src/initramfs/cpio.js'
import { SysError } from '../src/sys/syscalls.js'
import { emptyConfig, parseModprobeConf } from '../src/config/modprobe-conf.js'
import { appendSignature, buildElf } from './fixtures/tools/elf-builder.js'
import { signatureDer } from './fixtures/tools/tree.js'

// a CPU with SSSE3 (0089) and AVX (009C), without AVX2 (0125)
const CPU = 'cpu:type:x86,ven0002fam000Fmod006B:feature:,0000,0089,009C,00C0'
const dep = `kernel/arch/x86/crypto/sha256-ssse3.ko:
kernel/arch/x86/crypto/sha512-ssse3.ko: kernel/crypto/sha512_generic.ko
kernel/crypto/sha512_generic.ko:
kernel/arch/x86/crypto/sha1-ssse3.ko:
kernel/arch/x86/crypto/sm3-avx.ko:
kernel/arch/x86/kvm/kvm.ko:
kernel/drivers/block/virtio_blk.ko:
kernel/fs/ext4/ext4.ko:
kernel/drivers/net/ethernet/intel/e1000/e1000.ko:
`
const alias = `alias cpu:type:x86,ven*fam*mod*:feature:*0089* sha256_ssse3
alias cpu:type:x86,ven*fam*mod*:feature:*0125* sha256_ssse3
alias crypto-sha256 sha256_ssse3
alias crypto-sha224 sha256_ssse3
alias cpu:type:x86,ven*fam*mod*:feature:*0089* sha512_ssse3
alias crypto-sha512 sha512_ssse3
alias crypto-sha384 sha512_ssse3
alias crypto-sha512 sha512_generic
alias cpu:type:x86,ven*fam*mod*:feature:*0089* sha1_ssse3
alias crypto-sha1 sha1_ssse3
alias cpu:type:x86,ven*fam*mod*:feature:*0125* sm3_avx
alias crypto-sm3 sm3_avx
alias cpu:type:x86,ven*fam*mod*:feature:*00C0* kvm
alias virtio:d00000002v* virtio_blk
alias fs-ext4 ext4
alias pci:v00008086d0000100Esv*sd*bc*sc*i* e1000
`
const builtin = 'kernel/crypto/sha256_generic.ko\n'
const db = buildModuleDb('/lib/modules/T', { dep, alias, builtin })

t.test('hashAccelerators: the modules that implement a signature hash and that the CPU matches', async (t) => {
  const cpu = cpuMatchedModules(db, null, [CPU])
  t.same([...cpu].sort(), ['kvm', 'sha1_ssse3', 'sha256_ssse3', 'sha512_ssse3'])
  const by = hashAccelerators(db, null, cpu)
  t.same(by.get('sha256'), ['sha256_ssse3'])
  t.same(by.get('sha512'), ['sha512_ssse3'], 'the generic implementation is not the CPU\'s')
  t.same(by.get('sha1'), ['sha1_ssse3'])
  t.notOk(by.has('sm3'), 'sm3_avx wants AVX2, which this CPU lacks')
  t.same(hashAccelerators(db, null, cpuMatchedModules(db, null, ['cpu:type:x86,ven0002fam000Fmod006B:feature:,0000'])).size, 0, 'a CPU without the features: none')
  t.same(hashAccelerators(db, null, new Set()).size, 0)
  // a module built in is live already: nothing to load
  const withBuiltin = buildModuleDb('/lib/modules/T', { dep, alias, builtin: builtin + 'kernel/arch/x86/crypto/sha256-ssse3.ko\n' })
  t.notOk(hashAccelerators(withBuiltin, null, cpu).has('sha256'))
  // found through aliases, so the blacklist applies
  const black = parseModprobeConf('blacklist sha256_ssse3\n', '/etc/modprobe.d/x.conf').config
  t.notOk(hashAccelerators(db, black, cpu).has('sha256'))
  t.same(hashAccelerators(db, black, cpu).get('sha512'), ['sha512_ssse3'])
  t.same(loadableFirst(db, black, ['sha256-ssse3', 'sha512_ssse3', 'sha512_ssse3', 'sha256_generic', 'nosuch']), ['sha512_ssse3'], 'normalised, once, a module file, not built in, not blacklisted')
})

/** A module tree on disk whose files are ELF images signed with `hash` (or unsigned). */
function tree(t: { teardown(f: () => void): void }, sig: 'rsa-sha256' | 'ec-sha512-nocn' | null): string {
  const dir = mkdtempSync(join(tmpdir(), 'modload-sighash-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const elf = buildElf({ sections: [{ name: '.modinfo', data: 'license=GPL\0' }] })
  for (const line of dep.trim().split('\n')) {
    const rel = line.split(':')[0]
    mkdirSync(join(dir, rel, '..'), { recursive: true })
    const hash = sig === 'rsa-sha256' ? 4 : 6
    writeFileSync(join(dir, rel), sig === null ? elf : appendSignature(elf, { algo: 1, hash, idType: 2, signature: signatureDer(sig) }))
  }
  return dir
}

t.test('findSignatureAccelerators: the hash is read from a candidate\'s own signature', async (t) => {
  const sha256 = await findSignatureAccelerators(buildModuleDb(tree(t, 'rsa-sha256'), { dep, alias, builtin }), null, [CPU])
  t.same(sha256, { hash: 'sha256', modules: ['sha256_ssse3'] })
  const sha512 = await findSignatureAccelerators(buildModuleDb(tree(t, 'ec-sha512-nocn'), { dep, alias, builtin }), null, [CPU])
  t.same(sha512, { hash: 'sha512', modules: ['sha512_ssse3'] }, 'a tree signed with SHA-512 (as Ubuntu signs) gets its SHA-512 module')
  t.equal(await findSignatureAccelerators(buildModuleDb(tree(t, null), { dep, alias, builtin }), null, [CPU]), null, 'unsigned modules: nothing')
  t.equal(await findSignatureAccelerators(buildModuleDb('/nonexistent/T', { dep, alias, builtin }), null, [CPU]), null, 'unreadable: nothing, no throw')
  t.equal(await findSignatureAccelerators(buildModuleDb(tree(t, 'rsa-sha256'), { dep, alias, builtin }), null, []), null, 'no CPU modalias: nothing')
})

t.test('readCpuModalias', async (t) => {
  const dir = t.testdir({ modalias: `${CPU}\n`, empty: '' })
  t.same(readCpuModalias(join(dir, 'modalias')), [CPU])
  t.same(readCpuModalias(join(dir, 'empty')), [])
  t.same(readCpuModalias(join(dir, 'missing')), [])
})

t.test('loadFirst: dependencies first, live ones skipped, a failure returned', async (t) => {
  const dir = tree(t, 'rsa-sha256')
  const tdb = buildModuleDb(dir, { dep, alias, builtin })
  const calls: string[] = []
  const fail: Record<string, number> = { sha1_ssse3: 19, sm3_avx: 17 }
  const sys = {
    finitModule(path: string) {
      const name = path.split('/').at(-1)!.replace(/\.ko$/, '').replace(/-/g, '_')
      calls.push(name)
      if (fail[name]) throw new SysError('finit_module', fail[name], path)
    },
    initModule() {
      throw new Error('not used')
    },
  }
  let clock = 0
  const r = await loadFirst(sys, tdb, ['sha512_ssse3', 'sha256_ssse3', 'sha1_ssse3', 'sm3_avx'], (n) => n === 'sha256_ssse3', () => clock++, null)
  t.same(calls, ['sha512_generic', 'sha512_ssse3', 'sha1_ssse3', 'sm3_avx'])
  t.same(
    r.map((x) => [x.name, x.ok]),
    [
      ['sha512_generic', true],
      ['sha512_ssse3', true],
      ['sha1_ssse3', false],
      ['sm3_avx', true],
    ],
    'ENODEV is returned as a failure; EEXIST (loaded meanwhile) is fine',
  )
  t.match(r[2].error, /ENODEV|No such device/)
})

t.test('the host selector takes the accelerator; the image stores it with the root\'s chain', async (t) => {
  const host: HostNeeds = {
    devices: [
      { path: 'devices/system/cpu', modalias: CPU },
      { path: 'devices/pci0000:00/0000:00:04.0/virtio1', modalias: 'virtio:d00000002v00001AF4' },
    ],
    loaded: [],
    builtinBound: [],
    root: { source: '/dev/vda', fstype: 'ext4', modules: ['virtio_blk'] },
  }
  const without = selectModules({ db, config: emptyConfig(), selectors: parseSelectors(['host']), host })
  t.notOk(without.modules.some((m) => m.name === 'sha256_ssse3'), 'without the finding, the processor features stay out')
  t.ok(without.leftToRoot.includes('sha256_ssse3'))
  const s = selectModules({
    db,
    config: emptyConfig(),
    selectors: parseSelectors(['host']),
    host,
    signatureAccelerators: { hash: 'sha256', modules: ['sha256_ssse3'] },
  })
  const m = s.modules.find((x) => x.name === 'sha256_ssse3')
  t.same(m?.reasons, [{ kind: 'signature-hash', hash: 'sha256' }])
  t.match(describeReasons(m!.reasons), /the CPU's sha256, loaded first for the modules' signature checks/)
  t.notOk(s.leftToRoot.includes('sha256_ssse3'), 'in the image, not left to the root')
  t.notOk(s.modules.some((x) => x.name === 'kvm'), 'the other processor features still are')
  t.ok(rootChainClosure(s).has('sha256_ssse3'), 'stored plain with the chain')
})

t.test('image record: format and parse', async (t) => {
  t.equal(formatSignatureFirst('sha256', ['sha256_ssse3']), 'sha256 sha256_ssse3\n')
  t.same(parseSignatureFirst('sha256 sha256_ssse3\n'), { hash: 'sha256', modules: ['sha256_ssse3'] })
  t.same(parseSignatureFirst(' sha512  sha512-ssse3 x\n'), { hash: 'sha512', modules: ['sha512_ssse3', 'x'] }, 'names normalised')
  t.equal(parseSignatureFirst(''), null)
  t.equal(parseSignatureFirst('sha256\n'), null, 'no module')
  t.equal(parseSignatureFirst('md9 foo\n'), null, 'not a hash a signature names')
})

t.test('mkinitramfs: host takes the CPU\'s hash module, stores it plain with the chain and records it', async (t) => {
  const kver = '6.1.0-sig'
  const top = mkdtempSync(join(tmpdir(), 'modload-sigimg-'))
  t.teardown(() => rmSync(top, { recursive: true, force: true }))
  const md = join(top, 'lib/modules', kver)
  const src = tree(t, 'rsa-sha256')
  mkdirSync(md, { recursive: true })
  cpSync(src, md, { recursive: true })
  writeFileSync(join(md, 'modules.dep'), dep)
  writeFileSync(join(md, 'modules.alias'), alias)
  writeFileSync(join(md, 'modules.builtin'), builtin)
  const host: HostNeeds = {
    devices: [
      { path: 'devices/system/cpu', modalias: CPU },
      { path: 'devices/pci0000:00/0000:00:04.0/virtio1', modalias: 'virtio:d00000002v00001AF4' },
      { path: 'devices/pci0000:00/0000:00:03.0', modalias: 'pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00' },
    ],
    loaded: [],
    builtinBound: [],
    root: { source: '/dev/vda', fstype: 'ext4', modules: ['virtio_blk'] },
  }
  const out = join(top, 'x.img')
  const r = await mkinitramfs({ init: '/bin/true', kernelRoot: top, kver, selectors: parseSelectors(['host']), host, compress: 'none', moduleFiles: 'each', mtime: 0, configRoot: null, output: out })
  t.same(r.selection.modules.map((m) => m.name).sort(), ['e1000', 'ext4', 'sha256_ssse3', 'virtio_blk'])
  const files = new Map(readCpio(readFileSync(out)).map((f) => [f.path, Buffer.from(f.data)]))
  t.equal(files.get('etc/modload/signature-hash')?.toString(), 'sha256 sha256_ssse3\n')
  t.equal(files.get('etc/modload/root-modules')?.toString(), 'ext4\nvirtio_blk\n', 'the chain file names the root\'s modules only')
  t.ok(files.has(`lib/modules/${kver}/kernel/arch/x86/crypto/sha256-ssse3.ko`), 'plain, with the chain')
  t.ok(r.separate.has(`/lib/modules/${kver}/kernel/drivers/net/ethernet/intel/e1000/e1000.ko.zst`), 'while a module outside the chain is compressed on its own')
  t.notOk([...r.separate].some((p) => p.includes('sha256')))

  // a blacklisted one stays out, as coldplug would not load it
  const conf = join(top, 'conf')
  mkdirSync(join(conf, 'etc/modprobe.d'), { recursive: true })
  writeFileSync(join(conf, 'etc/modprobe.d/x.conf'), 'blacklist sha256_ssse3\n')
  const black = await mkinitramfs({ init: '/bin/true', kernelRoot: top, kver, selectors: parseSelectors(['host']), host, compress: 'none', mtime: 0, configRoot: conf, output: join(top, 'z.img') })
  t.notOk(black.selection.modules.some((m) => m.name === 'sha256_ssse3'), 'blacklisted: left out')

  const unsigned = await mkinitramfs({ init: '/bin/true', kernelRoot: top, kver, selectors: parseSelectors(['host']), host: { ...host, devices: host.devices.slice(1) }, compress: 'none', mtime: 0, configRoot: null, output: join(top, 'y.img') })
  t.notOk(unsigned.selection.modules.some((m) => m.name === 'sha256_ssse3'), 'no CPU modalias: nothing')
  t.notOk(new Map(readCpio(readFileSync(join(top, 'y.img'))).map((f) => [f.path, f])).has('etc/modload/signature-hash'))
})
