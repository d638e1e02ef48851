// The reader of kmod's binary indexes (src/format/index-bin.ts), over files written by our
// depmod's writer, which is itself tested byte for byte against kmod's depmod. The real trees
// are compared with libkmod in kmod-diff.test.ts; here: the search rules on small cases.
import t from 'tap'
import { BinIndex } from '../src/format/index-bin.js'
import { createBinIndex } from '../src/depmod/index-bin.js'
import { binIndexesFromTexts } from '../src/depmod/bin-from-text.js'
import { buildModuleDbFromBin } from '../src/core/moddb-bin.js'
import { buildModuleDb } from '../src/core/moddb.js'
import { lookup } from '../src/core/lookup.js'
import { IndexError } from '../src/format/errors.js'

function index(entries: [string, string, number][]): BinIndex {
  const w = createBinIndex()
  for (const [k, v, p] of entries) w.insert(k, v, p)
  return new BinIndex(w.write(), 'test.bin')
}

t.test('exact search: the first value of the key, nothing for a prefix or a longer key', async (t) => {
  const ix = index([['ext4', 'kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko', 1], ['ext2', 'kernel/fs/ext2/ext2.ko:', 0], ['e1000', 'a', 3], ['e1000', 'b', 2]])
  t.equal(ix.search('ext4'), 'kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko')
  t.equal(ix.search('ext2'), 'kernel/fs/ext2/ext2.ko:')
  t.equal(ix.search('e1000'), 'b', 'lowest priority first')
  t.equal(ix.search('ext'), null)
  t.equal(ix.search('ext44'), null)
  t.equal(ix.search(''), null)
  t.equal(ix.search('é'), null, 'a key outside 7-bit ASCII finds nothing')
})

t.test('wildcard search: patterns match, ordered by priority, equal priorities newest first', async (t) => {
  const ix = index([
    ['pci:v00008086d*sv*sd*bc*sc*i*', 'e1000e', 5],
    ['pci:v*d*sv*sd*bc0Csc03i30*', 'xhci_pci', 2],
    ['pci:v00008086d000010D3sv*sd*bc*sc*i*', 'e1000e', 5],
    ['pci:v0000????d*', 'qmark', 9],
    ['pci:v0000[89]086d*', 'bracket', 1],
    ['pci:v00001AF4d*', 'virtio_pci', 0],
  ])
  const key = 'pci:v00008086d000010D3sv00001AF4sd00001100bc02sc00i00'
  t.same(ix.searchWild(key).map((v) => `${v.value}/${v.priority}`), ['bracket/1', 'e1000e/5', 'e1000e/5', 'qmark/9'])
  t.same(ix.searchWild('pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30').map((v) => v.value), ['xhci_pci', 'qmark'])
  t.same(ix.searchWild('pci:v00001AF4d00001000').map((v) => v.value), ['virtio_pci', 'qmark'])
  t.same(ix.searchWild('usb:v1D6Bp0002'), [])
  // twice: the second search uses the walked subtrees kept from the first
  t.same(ix.searchWild(key).map((v) => v.value), ['bracket', 'e1000e', 'e1000e', 'qmark'])
  const all = [...ix.entries()].map(([k, v]) => `${k}=${v.value}`)
  t.same(all, [...all].sort(), 'entries in key order')
  t.equal(all.length, 6)
})

t.test('a file that is not an index is an IndexError naming it', async (t) => {
  t.throws(() => new BinIndex(Buffer.from('alias pci:* x\n'), '/lib/modules/x/modules.alias.bin'), IndexError)
  t.throws(() => new BinIndex(Buffer.alloc(4), 'short.bin'), /short\.bin:1: not a kmod binary index/)
  const w = createBinIndex()
  w.insert('abc', 'x', 0)
  const bytes = Buffer.from(w.write())
  bytes.writeUInt32BE(0x00030000, 4)
  t.throws(() => new BinIndex(bytes, 'v3.bin'), /version 0x30000/)
  const cut = Buffer.from(w.write()).subarray(0, 14)
  t.throws(() => new BinIndex(cut, 'cut.bin').search('abc'), /cut\.bin:1: .*past the end|has no end/)
})

t.test('binary indexes made from trimmed texts answer as the texts do', async (t) => {
  const texts = {
    dep: 'kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko kernel/lib/crc16.ko\nkernel/fs/jbd2/jbd2.ko:\nkernel/lib/crc16.ko:\nkernel/drivers/net/virtio-net.ko: kernel/net/failover.ko\nkernel/net/failover.ko:\n',
    alias: '# Aliases extracted from modules themselves.\nalias fs-ext4 ext4\nalias ext3 ext4\nalias virtio:d00000001v* virtio_net\nalias pci:v*d*sv*sd*bc02sc*i* failover\nalias net-pf-[12]* virtio_net\n',
    symbols: '# Aliases for symbols, used by symbol_request().\nalias symbol:jbd2_journal_start jbd2\n',
    builtin: 'kernel/drivers/virtio/virtio_pci.ko\nkernel/fs/ext2/ext2.ko\n',
    builtinModinfo: 'virtio_pci.alias=pci:v00001AF4d*sv*sd*bc*sc*i*\0ext2.alias=fs-ext2\0ext2.license=GPL\0',
  }
  const dir = '/lib/modules/6.1.0-test'
  const files = new Map(binIndexesFromTexts(texts, dir).map((f) => [f.name, f.data]))
  t.same([...files.keys()].sort(), ['modules.alias.bin', 'modules.builtin.alias.bin', 'modules.builtin.bin', 'modules.dep.bin', 'modules.symbols.bin'])
  const text = buildModuleDb(dir, texts)
  const bin = buildModuleDbFromBin(dir, {
    depBin: files.get('modules.dep.bin')!,
    aliasBin: files.get('modules.alias.bin'),
    symbolsBin: () => files.get('modules.symbols.bin'),
    builtinBin: files.get('modules.builtin.bin'),
    builtinAliasBin: files.get('modules.builtin.alias.bin'),
  })
  for (const key of ['ext4', 'fs-ext4', 'ext3', 'virtio:d00000001v00001AF4', 'pci:v00008086d000010D3sv00001AF4sd00001100bc02sc00i00', 'pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00', 'net-pf-17', 'net-pf-3', 'symbol:jbd2_journal_start', 'virtio_pci', 'fs-ext2', 'virtio-net', 'nothing', 'bad]']) {
    t.same(lookup(bin, null, key), lookup(text, null, key), key)
  }
  t.same([...bin.modules.keys()], [...text.modules.keys()])
  t.same(bin.modules.get('ext4'), { name: 'ext4', path: 'kernel/fs/ext4/ext4.ko', deps: ['kernel/fs/jbd2/jbd2.ko', 'kernel/lib/crc16.ko'] })
  t.equal(bin.modules.size, 5)
  t.equal(bin.aliases.size, 5)
  t.same(bin.aliases.dump(), text.aliases.dump())
})

t.test('a wildcard subtree is skipped only where no pattern in it can match', async (t) => {
  // runs after '*' and '?', runs a key holds only before the wildcard, brackets and escapes
  // (never skipped), nested stars: the binary index against the text one, which matches every
  // pattern against every key (core/alias-index.ts), for every key of a small alphabet. Keys
  // hold no '*' or '?', as no modalias does (there kmod's trie walk finds a pattern twice, once
  // through the wildcard and once by the key's own character, and the text index does not)
  const patterns = ['x*ab', 'x*ab*cd', 'x*cd*ab', 'x?ab', 'x?a?b', 'x*[ab]c', 'x*a[bc]d*', 'x*\\*ab', 'x*a\\?b', 'x*abc*', 'x*b', 'x*', 'xa*', 'x??', 'x*c?d', 'x[a-c]*d']
  const alias = patterns.map((p, i) => `alias ${p} m${i}`).join('\n') + '\n'
  const texts = { dep: patterns.map((_, i) => `kernel/m${i}.ko:`).join('\n') + '\n', alias }
  const dir = '/lib/modules/6.1.0-test'
  const files = new Map(binIndexesFromTexts(texts, dir).map((f) => [f.name, f.data]))
  const text = buildModuleDb(dir, texts)
  const bin = buildModuleDbFromBin(dir, { depBin: files.get('modules.dep.bin')!, aliasBin: files.get('modules.alias.bin') })
  const keys: string[] = []
  const grow = (k: string): void => {
    keys.push(k)
    if (k.length < 7) for (const c of ['a', 'b', 'c', 'd', 'z']) grow(k + c)
  }
  grow('x')
  let differ = 0
  let matched = 0
  for (const k of keys) {
    const want = text.aliases.matchNormalized(k).join(' ')
    if (bin.aliases.matchNormalized(k).join(' ') !== want) differ++
    if (want !== 'm11') matched++
  }
  t.equal(differ, 0, `${keys.length} keys, ${matched} matching more than 'x*': lists (order, duplicates) as the text index's`)
  t.same(bin.aliases.matchNormalized('xzzabzzcd'), text.aliases.matchNormalized('xzzabzzcd'))
  const late = bin.aliases.matchNormalized('xzzcdzab')
  t.ok(late.includes('m2') && late.includes('m0'), "x*cd*ab and x*ab: runs found wherever the key holds them")
  t.same(late, text.aliases.matchNormalized('xzzcdzab'))
})
