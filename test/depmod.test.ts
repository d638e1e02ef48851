// depmod: kmod's hash order, depmod.d, file priority, the binary index writer, and whole runs
// over the synthetic tree of test/fixtures/tools (expected texts are kmod 30's output for the
// same tree; kmod-tools-diff.test.ts re-checks them against the real kmod).
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync, utimesSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { superfast, kmodHashOrder } from '../src/depmod/hash.js'
import { emptyConfig, finishConfig, logicalLines, parseDepmodConf } from '../src/depmod/config.js'
import { keepsPriority, selectModules, pathToModname } from '../src/depmod/select.js'
import { createBinIndex } from '../src/depmod/index-bin.js'
import { builtinAliases, builtinModinfo } from '../src/depmod/builtin-modinfo.js'
import { depmod, kmodAliasNormalize } from '../src/depmod/depmod.js'
import { makeDepmodTool } from '../src/tools/depmod.js'
import { KVER, writeFixtureTree } from './fixtures/tools/tree.js'
import { buildElf, modinfoSection } from './fixtures/tools/elf-builder.js'
import { runTool } from './fixtures/tools/io.js'

const tool = (cwd = '/') => makeDepmodTool({ release: () => KVER, configPaths: [], cwd: () => cwd })

t.test('SuperFastHash as kmod computes it (values from kmod C code)', async (t) => {
  const known: [string, number][] = [
    ['', 0],
    ['a', 291415938],
    ['ab', 1366002500],
    ['abc', 3535673738],
    ['abcd', 3671636187],
    ['virtio_net', 241856578],
    ['e1000_write_reg', 1438320047],
    ['\xe9t\xe9', 1774056205],
    ['x\xff', 3371177469],
    ['ab\xc3', 3497678479],
  ]
  for (const [k, v] of known) t.equal(superfast(k), v, JSON.stringify(k))
  t.same(kmodHashOrder(['b', 'a', 'abc', 'ab'], 2), kmodHashOrder(['ab', 'abc', 'a', 'b'], 2), 'order does not depend on insertion')
  const order = kmodHashOrder(['a', 'ab', 'abc', 'abcd'], 4)
  t.same(order.map((k) => superfast(k) & 3), [...order.map((k) => superfast(k) & 3)].sort((x, y) => x - y), 'bucket order')
})

t.test('depmod.d parsing', async (t) => {
  t.same(logicalLines('a \\\nb\nc\\d\n\nlast'), [
    { line: 'a b', lineNo: 2 },
    { line: 'cd', lineNo: 3 },
    { line: '', lineNo: 4 },
    { line: 'last', lineNo: 5 },
  ])
  const cfg = emptyConfig()
  const diags = parseDepmodConf(
    cfg,
    '# comment\nsearch updates built-in\noverride foo 6.* weird\noverride bar 5.* other\nexternal * /opt/ext\nexclude skipme\nbogus line\noverride onlyone\ninclude x\n',
    'a.conf',
    '6.1.0',
  )
  t.same(diags, ["a.conf:7: ignoring bad line starting with 'bogus'", "a.conf:8: ignoring bad line starting with 'override'"])
  t.same(cfg.searches, [{ kind: 'builtin' }, { kind: 'path', path: 'updates' }], 'kmod list order: last listed first')
  t.same(cfg.overrides, ['weird/foo'])
  t.same(cfg.externals, ['/opt/ext'])
  t.same(cfg.excludes, ['skipme'])
  t.same(finishConfig(emptyConfig()).searches, [{ kind: 'path', path: 'updates' }], 'default: updates first')
})

t.test('which file wins for one module name', async (t) => {
  const dir = '/r/lib/modules/6.1'
  const def = finishConfig(emptyConfig())
  t.equal(keepsPriority(def, dir, `${dir}/kernel/x/foo.ko`, `${dir}/updates/foo.ko`, 'foo'), false, 'updates beats kernel')
  t.equal(keepsPriority(def, dir, `${dir}/updates/foo.ko`, `${dir}/kernel/x/foo.ko`, 'foo'), true)
  t.equal(keepsPriority(def, dir, `${dir}/kernel/a/foo.ko`, `${dir}/kernel/b/foo.ko`, 'foo'), true, 'a tie keeps the first found')
  const cfg = emptyConfig()
  parseDepmodConf(cfg, 'search extra built-in updates\noverride foo * kernel/b\n', 'c.conf', '6.1')
  finishConfig(cfg)
  t.equal(keepsPriority(cfg, dir, `${dir}/extra/foo.ko`, `${dir}/kernel/b/foo.ko`, 'foo'), false, 'override wins over search')
  t.equal(keepsPriority(cfg, dir, `${dir}/updates/bar.ko`, `${dir}/extra/bar.ko`, 'bar'), false, 'first search word first')
  t.equal(keepsPriority(cfg, dir, `${dir}/updates/bar.ko`, `${dir}/kernel/bar.ko`, 'bar'), false, 'built-in ranks above updates here')
  const sel = selectModules([`${dir}/kernel/foo-bar.ko.xz`, `${dir}/updates/foo_bar.ko`, `${dir}/kernel/README`, `${dir}/kernel/.ko`], def, dir)
  t.same([...sel], [['foo_bar', `${dir}/updates/foo_bar.ko`]])
  t.equal(pathToModname('/a/b/snd-hda.intel.ko'), 'snd_hda')
})

/** A reader of kmod's binary index, to check what the writer produced. */
function readIndex(bytes: Uint8Array): Map<string, string[]> {
  const b = Buffer.from(bytes)
  const out = new Map<string, string[]>()
  t.equal(b.readUInt32BE(0), 0xb007f457)
  t.equal(b.readUInt32BE(4), 0x00020001)
  const walk = (off: number, key: string): void => {
    let p = off & 0x0fffffff
    if (off & 0x80000000) {
      const end = b.indexOf(0, p)
      key += b.toString('latin1', p, end)
      p = end + 1
    }
    if (off & 0x20000000) {
      const first = b[p]
      const last = b[p + 1]
      p += 2
      for (let c = first; c <= last; c++, p += 4) {
        const child = b.readUInt32BE(p)
        if (child) walk(child, key + String.fromCharCode(c))
      }
    }
    if (off & 0x40000000) {
      const n = b.readUInt32BE(p)
      p += 4
      const vals: string[] = []
      for (let i = 0; i < n; i++) {
        const prio = b.readUInt32BE(p)
        const end = b.indexOf(0, p + 4)
        vals.push(`${prio}:${b.toString('latin1', p + 4, end)}`)
        p = end + 1
      }
      out.set(key, vals)
    }
  }
  walk(b.readUInt32BE(8), '')
  return out
}

t.test('binary index writer', async (t) => {
  const ix = createBinIndex()
  t.equal(ix.insert('foobar', 'm1', 3), false)
  ix.insert('foo', 'm2', 1)
  ix.insert('foobaz', 'm3', 2)
  t.equal(ix.insert('foo', 'm2', 0), true, 'duplicate value reported')
  ix.insert('fo', 'm4', 5)
  ix.insert('bar', 'm5', 5)
  ix.insert('bar', 'm6', 5)
  t.same(
    readIndex(ix.write()),
    new Map([
      ['bar', ['5:m6', '5:m5']],
      ['fo', ['5:m4']],
      ['foo', ['0:m2', '1:m2']],
      ['foobar', ['3:m1']],
      ['foobaz', ['2:m3']],
    ]),
  )
  t.equal(Buffer.from(createBinIndex().write()).toString('hex'), 'b007f457000200010000000c', 'an empty index is a bare root')
  t.throws(() => createBinIndex().insert('caf\xe9', 'x', 0), /7-bit ASCII/)
})

t.test('modules.builtin.modinfo readers', async (t) => {
  const text = 'a.alias=x\0a.license=GPL\0b.alias=y-[0-9]\0b.flag\0skipped.alias=lost\0c.alias=z\0a.alias=late\0'
  t.same(builtinModinfo(text, 'a'), [{ key: 'alias', value: 'x' }, { key: 'license', value: 'GPL' }], 'the first run only, as kmod')
  t.same(builtinModinfo(text, 'c'), [{ key: 'alias', value: 'z' }])
  t.equal(builtinModinfo(text, 'nope'), undefined)
  t.same(
    builtinAliases(text).map((a) => `${a.module} ${a.alias}`),
    ['a x', 'b y-[0-9]', 'c z', 'a late'],
    'a string without "=" swallows the next one, as kmod reads it',
  )
  t.equal(kmodAliasNormalize('a-b[0-9]-c'), 'a_b[0-9]_c')
  t.equal(kmodAliasNormalize('bad]'), null)
  t.equal(kmodAliasNormalize('bad[0'), null)
})

const root = mkdtempSync(join(tmpdir(), 'modload-depmod-'))
t.teardown(() => rmSync(root, { recursive: true, force: true }))
const dir = writeFixtureTree(root)

const DEP = `kernel/drivers/e/big32.ko:
kernel/drivers/b/beta-mod.ko: updates/alpha.ko
kernel/drivers/c/gamma.ko.xz: kernel/drivers/b/beta-mod.ko updates/alpha.ko
kernel/drivers/c/delta.ko.zst: kernel/drivers/c/gamma.ko.xz kernel/drivers/b/beta-mod.ko updates/alpha.ko
kernel/drivers/e/devonly.ko:
kernel/drivers/e/legacy-sig.ko:
kernel/drivers/e/keyid-sig.ko:
kernel/drivers/e/no-modinfo.ko:
kernel/drivers/e/notelf.ko:
updates/alpha.ko:
extra/outside-order.ko: kernel/drivers/b/beta-mod.ko updates/alpha.ko
`

t.test('depmod over the fixture tree: kmod output and messages', async (t) => {
  const r = await runTool(tool(), ['-b', root, KVER])
  t.equal(r.code, 0)
  t.equal(r.out, '')
  t.equal(
    r.err,
    `depmod: ERROR: failed to load symbols from ${dir}/kernel/drivers/e/notelf.ko: Exec format error\n` +
      "depmod: ERROR: Module 'devonly' has devname (lonely) but lacks major and minor information. Ignoring.\n",
  )
  const read = (f: string): string => readFileSync(join(dir, f), 'latin1')
  t.equal(read('modules.dep'), DEP)
  t.equal(read('modules.devname'), '# Device nodes to trigger on-demand module loading.\ndelta delta-node b259:7\n')
  t.equal(read('modules.softdep'), '# Soft dependencies extracted from modules themselves.\nsoftdep beta_mod post: gamma\n')
  t.equal(
    read('modules.symbols'),
    '# Aliases for symbols, used by symbol_request().\nalias symbol:gamma_fn gamma\nalias symbol:big32_fn big32\nalias symbol:alpha_fn alpha\nalias symbol:beta_fn beta_mod\nalias symbol:beta_other beta_mod\n',
  )
  t.match(read('modules.alias'), /^# Aliases extracted from modules themselves.\nalias of:N\*T\*Cbig,thirtytwo big32\nalias beta-alias beta_mod\n/)
  t.equal(read('modules.builtin.alias'), '# Aliases of built-in modules, from modules.builtin.modinfo.\nalias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci\nalias bt-alias builtin_thing\nalias bt-[ab]-* builtin_thing\n')
  const depBin = readIndex(readFileSync(join(dir, 'modules.dep.bin')))
  t.same(depBin.get('gamma'), ['2:kernel/drivers/c/gamma.ko.xz: kernel/drivers/b/beta-mod.ko updates/alpha.ko'])
  t.same(readIndex(readFileSync(join(dir, 'modules.builtin.bin'))), new Map([['virtio_pci', ['0:']], ['builtin_thing', ['0:']]]))
  t.same(readIndex(readFileSync(join(dir, 'modules.alias.bin'))).get('beta_alias'), ['1:beta_mod'], 'normalised keys, module position as priority')
})

t.test('depmod -n prints the text files and writes nothing; -v lists dependencies', async (t) => {
  const other = mkdtempSync(join(tmpdir(), 'modload-depmod-n-'))
  t.teardown(() => rmSync(other, { recursive: true, force: true }))
  const d = writeFixtureTree(other)
  const r = await runTool(tool(), ['-n', '-b', other, KVER])
  t.equal(r.code, 0)
  t.ok(r.out.startsWith(DEP + '# Aliases extracted'), 'modules.dep first')
  t.ok(r.out.endsWith('delta delta-node b259:7\n'), 'modules.devname last')
  t.notOk(existsSync(join(d, 'modules.dep')))
  const v = await runTool(tool(), ['-v', '-n', '-b', other, KVER])
  t.match(v.out, `${d}/kernel/drivers/b/beta-mod.ko needs "alpha_fn": ${d}/updates/alpha.ko\n`)
})

t.test('-F System.map with -e reports unknown symbols; -E checks CRCs', async (t) => {
  const map = join(root, 'System.map')
  writeFileSync(map, 'ffffffff81000000 T printk\nffffffff82000000 r __ksymtab_printk\nbroken\n')
  const r = await runTool(tool(), ['-n', '-e', '-F', map, '-b', root, KVER])
  t.match(r.err, `depmod: WARNING: ${dir}/kernel/drivers/c/gamma.ko.xz needs unknown symbol unknown_sym\n`)
  t.notMatch(r.err, 'missing_weak', 'weak symbols are not reported')
  t.match(r.err, `depmod: ERROR: ${map}:3: invalid line: broken\n`)
  t.notMatch(r.err, 'needs unknown symbol printk')
  const symvers = join(root, 'Module.symvers')
  writeFileSync(symvers, '0x00000001\tprintk\tvmlinux\tEXPORT_SYMBOL\n')
  const e = await runTool(tool(), ['-n', '-e', '-E', symvers, '-b', root, KVER])
  t.match(e.err, `depmod: WARNING: ${dir}/kernel/drivers/c/gamma.ko.xz disagrees about version of symbol alpha_fn\n`)
  t.match(e.err, `depmod: WARNING: ${dir}/kernel/drivers/b/beta-mod.ko disagrees about version of symbol printk\n`)
  const warn = await runTool(tool(), ['-n', '-e', '-b', root, KVER])
  t.match(warn.err, /^depmod: WARNING: -e needs -E or -F\n/)
})

t.test('a dependency cycle fails the run, writing nothing', async (t) => {
  const r2 = mkdtempSync(join(tmpdir(), 'modload-cycle-'))
  t.teardown(() => rmSync(r2, { recursive: true, force: true }))
  const d = join(r2, 'lib', 'modules', '6.1.0-cyc')
  const fs = await import('node:fs')
  fs.mkdirSync(join(d, 'kernel'), { recursive: true })
  const mod = (name: string, exp: string, need: string): void =>
    writeFileSync(
      join(d, 'kernel', `${name}.ko`),
      buildElf({
        sections: [{ name: '.modinfo', data: modinfoSection(['license=GPL']) }, { name: 'k', data: Buffer.alloc(4) }],
        symbols: [{ name: `__crc_${exp}`, section: 'k' }, { name: need, section: 'undef' }],
      }),
    )
  mod('a', 'a_fn', 'b_fn')
  mod('b', 'b_fn', 'c_fn')
  mod('c', 'c_fn', 'a_fn')
  mod('d', 'd_fn', 'a_fn')
  const r = await runTool(tool(), ['-b', r2, '6.1.0-cyc'])
  t.equal(r.code, 1)
  t.match(r.err, /depmod: ERROR: Cycle detected: (\w) -> (\w) -> (\w) -> \1\n/)
  t.match(r.err, 'depmod: ERROR: Found 3 modules in dependency cycles!\n')
  t.notOk(existsSync(join(d, 'modules.dep')))
})

t.test('explicit module list, -A, argument errors', async (t) => {
  const r = await runTool(tool(), ['-n', '-b', root, KVER, `${dir}/kernel/drivers/b/beta-mod.ko`, `${dir}/updates/alpha.ko`])
  t.equal(r.code, 0)
  t.ok(r.out.startsWith('kernel/drivers/b/beta-mod.ko: updates/alpha.ko\nupdates/alpha.ko:\n'))
  t.same(await runTool(tool(), ['-b', root, KVER, 'relative.ko']), { code: 1, out: '', err: 'depmod: FATAL: relative.ko: not absolute path.\n' })
  t.same(await runTool(tool(), ['-b', root, 'notaversion']), { code: 1, out: '', err: 'depmod: ERROR: Bad version passed notaversion\n' })
  t.same((await runTool(tool(), ['-P', 'ab'])).err, 'depmod: FATAL: -P only takes a single char\n')
  const missing = await runTool(tool(), ['-b', join(root, 'nowhere'), KVER])
  t.equal(missing.code, 1)
  t.match(missing.err, `depmod: FATAL: could not search modules: No such file or directory`)
  // -A: nothing to do while modules.dep is newer than every module
  const dep = join(dir, 'modules.dep')
  writeFileSync(dep, 'stale\n')
  const future = new Date(Date.now() + 3600_000)
  utimesSync(dep, future, future)
  t.equal((await runTool(tool(), ['-A', '-b', root, KVER])).code, 0)
  t.equal(readFileSync(dep, 'latin1'), 'stale\n')
  const past = new Date(Date.now() - 3600_000 * 24 * 365 * 20)
  utimesSync(dep, past, past)
  t.equal((await runTool(tool(), ['-A', '-b', root, KVER])).code, 0)
  t.equal(readFileSync(dep, 'latin1'), DEP, 'rebuilt once a module is newer')
})

t.test('depmod core: module order and symbol owners', async (t) => {
  const info = (a: string[]) => a.map((x) => ({ key: 'alias', value: x }))
  const r = depmod(
    {
      modules: [
        { path: '/m/kernel/b.ko', info: info(['x']), exports: [{ name: 'shared', crc: 1 }], needs: [] },
        { path: '/m/kernel/a.ko', info: null, exports: [{ name: 'shared', crc: 2 }], needs: [] },
        { path: '/m/kernel/c.ko', info: null, exports: null, needs: [{ name: 'shared', crc: 0, weak: false }] },
      ],
      order: 'kernel/a.ko\nkernel/b.ko\n',
    },
    { dirname: '/m', symPrefix: '', checkSymvers: false, printUnknown: false, warnDups: false },
  )
  const dep = r.files.find((f) => f.name === 'modules.dep')?.data
  t.equal(dep, 'kernel/a.ko:\nkernel/b.ko:\nkernel/c.ko: kernel/b.ko\n', 'the later exporter owns a symbol; unordered modules last')
})
