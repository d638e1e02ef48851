import t from 'tap'
import { buildAliasIndex } from '../src/core/alias-index.js'
import { fnmatch } from '../src/core/fnmatch.js'
import { parseModulesAlias } from '../src/format/modules-alias.js'

const text = `# Aliases extracted from modules themselves.
alias pci:v00001AF4d00001000sv*sd*bc*sc*i* virtio_net_fake
alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci
alias virtio:d00000001v* virtio_net
alias virtio:d00000002v* virtio_blk
alias fs-ext4 ext4
alias char-major-10-237 loop
alias *:c* short_glob
alias acpi*:PNP0A0[38]:* pci_root
alias snd-card-0 snd_dummy
`

const idx = buildAliasIndex(parseModulesAlias(text))

t.test('exact and glob hits, in file order', async (t) => {
  t.same(idx.lookup('fs-ext4'), ['ext4'])
  t.same(idx.lookup('virtio:d00000001v00001AF4'), ['virtio_net'])
  t.same(idx.lookup('pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00'), ['virtio_net_fake', 'virtio_pci'])
  t.same(idx.lookup('nothing'), [])
  t.same(idx.lookup('acpi:PNP0A08:'), ['pci_root'])
  t.same(idx.lookup('x:cy'), ['short_glob'], 'patterns with short literal prefix are found')
})

t.test('dash and underscore are the same outside brackets', async (t) => {
  t.same(idx.lookup('snd_card_0'), ['snd_dummy'])
  t.same(idx.lookup('fs_ext4'), ['ext4'])
})

t.test('agrees with a linear scan on generated strings', async (t) => {
  const entries = parseModulesAlias(text)
  const probes = ['pci:v00001AF4d00001041sv0sd0bc0sc0i0', 'virtio:d00000002v0', 'q:c', 'acpi:PNP0A03:x', 'acpi:PNP0A04:x', 'fs-ext4']
  for (const p of probes) {
    const linear = [...new Set(entries.filter((e) => fnmatch(e.pattern.replaceAll('-', '_'), p.replaceAll('-', '_'))).map((e) => e.module))]
    t.same(idx.lookup(p), linear, p)
  }
})

t.test('a corrupt line names file and line', async (t) => {
  t.throws(() => parseModulesAlias('alias a b\nbogus line\n', '/x/modules.alias'), /\/x\/modules\.alias:2: expected "alias PATTERN MODULE"/)
})
