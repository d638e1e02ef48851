import t from 'tap'
import { parseBuiltinModinfo, builtinAliases } from '../src/format/modules-builtin-modinfo.js'
import { parseModulesDevname } from '../src/format/modules-devname.js'
import { parseModulesSymbols } from '../src/format/modules-symbols.js'
import { parseModulesAlias } from '../src/format/modules-alias.js'

t.test('modules.builtin.modinfo: runs, first run, aliases as depmod files them', async (t) => {
  const text = 'a.license=GPL\0a.alias=pci:v1*\0b.alias=x\0\0a.alias=late\0b.parm=p:desc\0'
  const info = parseBuiltinModinfo(text)
  t.same(info.runs, ['a', 'b', 'a', 'b'])
  t.same(info.first.get('a'), [['license', 'GPL'], ['alias', 'pci:v1*']])
  t.same(builtinAliases(info), [
    { pattern: 'pci:v1*', module: 'a' },
    { pattern: 'x', module: 'b' },
    { pattern: 'pci:v1*', module: 'a' },
    { pattern: 'x', module: 'b' },
  ])
  t.throws(() => parseBuiltinModinfo('ok.k=v\0noprefix\0', 'f'), /f:2: string "noprefix"/)
})

t.test('modules.devname', async (t) => {
  t.same(parseModulesDevname('# c\nfuse fuse c10:229\nbtrfs btrfs-control c10:234\n'), [
    { module: 'fuse', devname: 'fuse', type: 'c', major: 10, minor: 229 },
    { module: 'btrfs', devname: 'btrfs-control', type: 'c', major: 10, minor: 234 },
  ])
  t.throws(() => parseModulesDevname('fuse fuse x10\n', 'd'), /d:1:/)
})

t.test('modules.symbols and modules.alias', async (t) => {
  t.same(parseModulesSymbols('# x\nalias symbol:foo mod-a\n'), [{ pattern: 'symbol:foo', module: 'mod_a' }])
  t.throws(() => parseModulesSymbols('alias symbol:a m\nalias other m\n', 's'), /s:2:/)
  t.same(parseModulesAlias('alias\ta  b\n'), [{ pattern: 'a', module: 'b' }], 'blanks of any kind')
})
