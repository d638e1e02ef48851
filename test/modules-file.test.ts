// `modload coldplug --modules-file` (src/tools/modules-file.ts): initramfs-tools' /conf/modules
// read as its load_modules reads it, each line loaded as `modprobe LINE` would (through a fake
// syscall shim and a fake /sys/module), and the file written anew with what is left for the
// boot script's own modprobe.
import t from 'tap'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseModulesFile, takeModulesFile, type ModulesFileContext } from '../src/tools/modules-file.js'
import { openModuleDir } from '../src/core/moddb-fs.js'
import { loadModprobeConfig } from '../src/config/config-fs.js'
import { fakeSys } from './fixtures/tools/fake-shim.js'

const tree = join(import.meta.dirname, 'fixtures', 'tree')
const conf = join(import.meta.dirname, 'fixtures', 'tools', 'modprobe.d')
const dir = `${tree}/lib/modules/6.1.0-test`
const tmp = mkdtempSync(join(tmpdir(), 'modload-modules-file-'))
t.teardown(() => rmSync(tmp, { recursive: true, force: true }))

function context(sys: ReturnType<typeof fakeSys>['sys'], live: string[] = []): { ctx: ModulesFileContext; lines: string[] } {
  const sysModule = mkdtempSync(join(tmp, 'sys-'))
  for (const m of live) {
    mkdirSync(join(sysModule, m))
    writeFileSync(join(sysModule, m, 'initstate'), 'live\n')
  }
  const lines: string[] = []
  const { config } = loadModprobeConfig({ paths: [conf], modulesDir: dir, cmdline: '' })
  return { ctx: { db: openModuleDir(dir), config, sys: () => sys, sysModule, log: (l) => void lines.push(l), modprobeOptions: undefined }, lines }
}

t.test('parseModulesFile: what load_modules runs modprobe for', async (t) => {
  t.same(parseModulesFile('dm-mod\n\n# a comment\n  raid456 devices_handle_discard_safely=Y \n\t#indented comment\n-b foo\n'), [
    { text: 'dm-mod', name: 'dm-mod', params: [] },
    { text: 'raid456 devices_handle_discard_safely=Y', name: 'raid456', params: ['devices_handle_discard_safely=Y'] },
    { text: '-b foo', name: '-b', params: ['foo'] },
  ])
  t.same(parseModulesFile(''), [])
})

t.test('each line loads as modprobe would, in order; the file keeps what is left', async (t) => {
  const { sys, calls } = fakeSys()
  const { ctx, lines } = context(sys, ['failover', 'jbd2'])
  const file = join(tmp, 'modules')
  writeFileSync(file, '# force_load\next4 x=1\njbd2\nno_such_module\n-b odd\n')
  await takeModulesFile(ctx, file)
  t.same(calls.map((c) => c.args[1]), ['journal=1 x=1'], "ext4 with its modprobe.d options and the line's; its live dependencies and the live jbd2 not again")
  t.equal(readFileSync(file, 'utf8'), 'no_such_module\n-b odd\n', 'the module that is not found and the line that is no module are left, in order')
  t.match(lines.join('\n'), /no_such_module: not found/)
  t.match(lines.join('\n'), /loaded: ext4 x=1/)
})

t.test('a load that fails is left to the boot script with kmod\'s reason; one that loads is not', async (t) => {
  const { sys } = fakeSys({ finitModule: [-22] })
  const { ctx, lines } = context(sys)
  const file = join(tmp, 'modules2')
  writeFileSync(file, 'jbd2\nfailover\n')
  await takeModulesFile(ctx, file)
  t.equal(readFileSync(file, 'utf8'), 'jbd2\n')
  t.match(lines.join('\n'), /could not insert 'jbd2': Invalid argument; left to the boot script's modprobe/)
})

t.test('everything loaded: the file is left empty; no file: nothing happens', async (t) => {
  const { sys } = fakeSys()
  const { ctx, lines } = context(sys)
  const file = join(tmp, 'modules3')
  writeFileSync(file, 'failover\n')
  await takeModulesFile(ctx, file)
  t.equal(readFileSync(file, 'utf8'), '')
  await takeModulesFile(ctx, join(tmp, 'missing'))
  t.match(lines.join('\n'), /--modules-file .*missing: .*left to the boot script/)
})

t.test('ENODEV (no device for that driver): not left for another try, which would end the same', async (t) => {
  const { sys } = fakeSys({ finitModule: [-19] })
  const { ctx, lines } = context(sys)
  const file = join(tmp, 'modules4')
  writeFileSync(file, 'failover\n')
  await takeModulesFile(ctx, file)
  t.equal(readFileSync(file, 'utf8'), '')
  t.match(lines.join('\n'), /no device for it .*: failover/)
  t.notMatch(lines.join('\n'), /loaded: failover/)
})

t.test("MODPROBE_OPTIONS -qb (initramfs-tools' init): the blacklist applies, as to init's modprobe", async (t) => {
  const { sys, calls } = fakeSys()
  const { ctx, lines } = context(sys)
  const file = join(tmp, 'modules5')
  writeFileSync(file, 'virtio_net\n')
  await takeModulesFile({ ...ctx, modprobeOptions: '-qb' }, file)
  t.equal(calls.length, 0, 'the blacklisted module is not loaded')
  t.equal(readFileSync(file, 'utf8'), '', '(nor left: init\'s modprobe -b would not load it either)')
  t.match(lines.join('\n'), /blacklisted/)
  const loads = fakeSys()
  const other = context(loads.sys)
  writeFileSync(file, 'virtio_net\n')
  await takeModulesFile(other.ctx, file)
  t.ok(loads.calls.length > 0, 'without -b it loads')
})
