import t from 'tap'
import { buildModuleDb } from '../src/core/moddb.js'
import { loadWithDeps, type LoaderContext } from '../src/load/loader.js'
import { describe } from '../src/init/report.js'
import { SysError, MODULE_INIT_COMPRESSED_FILE } from '../src/sys/syscalls.js'

const dir = '/lib/modules/k'
const db = buildModuleDb(dir, {
  dep: [
    'kernel/virtio_pci.ko: kernel/virtio_ring.ko kernel/virtio.ko',
    'kernel/virtio_ring.ko:',
    'kernel/virtio.ko:',
    'kernel/virtio_net.ko.xz: kernel/net_failover.ko kernel/failover.ko kernel/virtio_ring.ko kernel/virtio.ko',
    'kernel/net_failover.ko: kernel/failover.ko',
    'kernel/failover.ko:',
    'kernel/virtio_blk.ko: kernel/virtio_ring.ko kernel/virtio.ko',
    'kernel/broken.ko:',
    'kernel/needs_broken.ko: kernel/broken.ko',
    '',
  ].join('\n'),
  alias: [
    'alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci',
    'alias virtio:d00000001v* virtio_net',
    'alias virtio:d00000002v* virtio_blk',
    'alias platform:broken broken',
    'alias platform:needs needs_broken',
    '',
  ].join('\n'),
  builtin: 'kernel/i8042.ko\n',
})

function fakeSys(fail: Record<string, string> = {}) {
  const calls: { path: string; flags: number; params: string }[] = []
  const sys = {
    finitModule(path: string, params = '', flags = 0) {
      calls.push({ path, flags, params })
      const name = path.split('/').at(-1)!.split('.')[0]
      if (fail[name]) throw new SysError('finit_module', fail[name] === 'ENOEXEC' ? 8 : 17, path)
    },
    initModule(_image: Uint8Array, _params = '', path = '') {
      calls.push({ path, flags: -1, params: _params })
    },
  }
  return { sys, calls }
}

function ctx(sys: LoaderContext['sys'], extra: Partial<LoaderContext> = {}): LoaderContext {
  return { db, sys, live: new Set(), failed: new Map(), kernelCompression: 'xz', now: () => 0, ...extra }
}

t.test('loads dependencies first and skips live modules', async (t) => {
  const { sys, calls } = fakeSys()
  const c = ctx(sys, { live: new Set(['virtio']) })
  const r = await loadWithDeps(c, 'virtio_net')
  t.same(r.map((x) => [x.name, x.status]), [['virtio_ring', 'loaded'], ['failover', 'loaded'], ['net_failover', 'loaded'], ['virtio_net', 'loaded']])
  t.equal(calls.at(-1)!.flags, MODULE_INIT_COMPRESSED_FILE, '.ko.xz goes through the compressed-file flag when the kernel decompresses xz')
  t.equal(calls.at(-1)!.path, `${dir}/kernel/virtio_net.ko.xz`)
  t.ok(c.live.has('virtio_net'))
})

t.test('a failure is reported with its errno and dependents are skipped; others still load', async (t) => {
  const { sys } = fakeSys({ broken: 'ENOEXEC' })
  const c = ctx(sys)
  const r1 = await loadWithDeps(c, 'needs_broken')
  t.same(r1.map((x) => [x.name, x.status]), [['broken', 'failed'], ['needs_broken', 'skipped']])
  t.match(describe(r1[0]), /^failed broken: ENOEXEC \(Invalid module format\): .*\[\/lib\/modules\/k\/kernel\/broken.ko\]$/)
  t.match(describe(r1[1]), /skipped needs_broken: dependency broken failed/)
  t.same((await loadWithDeps(c, 'virtio_blk')).map((x) => x.status), ['loaded', 'loaded', 'loaded'])
})

t.test('EEXIST means somebody else loaded it', async (t) => {
  const { sys } = fakeSys({ virtio: 'EEXIST' })
  const r = await loadWithDeps(ctx(sys), 'virtio')
  t.equal(r[0].status, 'live')
})

t.test('module parameters are passed', async (t) => {
  const { sys, calls } = fakeSys()
  await loadWithDeps(ctx(sys, { params: (n) => (n === 'failover' ? 'a=1 b=2' : '') }), 'failover')
  t.equal(calls[0].params, 'a=1 b=2')
})

t.test('a compressed module the kernel cannot decompress is unpacked here and given to init_module', async (t) => {
  const { gzipSync } = await import('node:zlib')
  const dir = t.testdir({ 'm.ko.gz': gzipSync(Buffer.from('\x7fELF fake module image')) })
  const gzDb = buildModuleDb(dir, { dep: 'm.ko.gz:\n' })
  const images: string[] = []
  const sys = {
    finitModule() {
      throw new Error('finit_module must not be used')
    },
    initModule(image: Uint8Array, _params = '', path = '') {
      images.push(`${path}: ${Buffer.from(image).toString()}`)
    },
  }
  const r = await loadWithDeps({ db: gzDb, sys, live: new Set(), failed: new Map(), kernelCompression: 'xz', now: () => 0 }, 'm')
  t.equal(r[0].status, 'loaded')
  t.same(images, [`${dir}/m.ko.gz: \x7fELF fake module image`])
})
