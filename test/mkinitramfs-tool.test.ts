// The mkinitramfs tool: flags over the config file, --list and --json, errors a user can act on.
import t from 'tap'
import { writeFileSync, existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { formatMissingFirmware, mkinitramfsTool } from '../src/tools/mkinitramfs.js'
import { UsageError } from '../src/tools/io.js'
import { runTool } from './fixtures/tools/io.js'

const root = fileURLToPath(new URL('./fixtures/tree', import.meta.url))
const base = ['--kernel-root', root, '-k', '6.1.0-test', '--init', '/bin/true', '--no-modprobe-d']

t.test('--list: each module, its size and why; the summary by part', async (t) => {
  const r = await runTool(mkinitramfsTool, [...base, '--no-config', '--list', '-m', 'fs-ext4,virtio_pci'])
  t.equal(r.code, 0)
  const lines = r.out.split('\n')
  t.match(lines[0], /^MODULE\s+SIZE\s+WHY$/)
  t.match(lines[1], /^ext4\s+28 B\s+named: fs-ext4$/)
  t.match(lines[2], /^jbd2\s+28 B\s+needed by ext4$/)
  t.match(lines[3], /^virtio_pci\s+-\s+built in \(not copied\): named: virtio_pci$/)
  t.match(r.out, /\n2 modules, .* before compression\n  runtime .*\n  modules\s+56 B  2 files\n/)
})

t.test('--json for scripts', async (t) => {
  const r = await runTool(mkinitramfsTool, [...base, '--no-config', '--json', '-m', 'virtio:d00000001v00001AF4'])
  const j = JSON.parse(r.out)
  t.same(j.modules.map((m: { name: string }) => m.name), ['failover', 'net_failover', 'virtio_net'])
  t.same(j.modules[2].reasons, [{ kind: 'named', as: 'virtio:d00000001v00001AF4', text: 'named: virtio:d00000001v00001AF4' }])
  t.equal(j.sizes.modules, j.modules.reduce((s: number, m: { bytes: number }) => s + m.bytes, 0))
})

t.test('the config file, and flags over it', async (t) => {
  const dir = t.testdir({ 'a.conf': 'modules = fs-ext4\nmodules -jbd2\ncompress lz4\n', 'bad.conf': 'modules ext4\ncompres zstd\n' })
  const fromFile = await runTool(mkinitramfsTool, [...base, '--config', `${dir}/a.conf`, '--list'])
  t.match(fromFile.out, /^ext4 /m)
  t.match(fromFile.err, /jbd2: kept although removed, because ext4 cannot load without it/)
  const flagWins = await runTool(mkinitramfsTool, [...base, '--config', `${dir}/a.conf`, '--list', '-m', 'virtio_net'])
  t.notMatch(flagWins.out, /^ext4 /m, '-m replaces the file\'s modules')
  t.match(flagWins.out, /^virtio_net /m)
  await t.rejects(runTool(mkinitramfsTool, [...base, '--config', `${dir}/bad.conf`, '--list']), /bad\.conf:2: unknown directive "compres" \(did you mean "compress"\?\)/)
  const out = `${dir}/x.img`
  const built = await runTool(mkinitramfsTool, [...base, '--config', `${dir}/a.conf`, '-o', out])
  t.equal(built.code, 0)
  t.match(built.err, new RegExp(`^${out}: .* \\(lz4, 2 modules each compressed\\) from .*, 2 modules, built in \\d+\\.\\d s\\n  runtime`, 'm'))
  t.ok(existsSync(out))
})

t.test('compress-runtime and compress-modules: from the config file, flags over them', async (t) => {
  const dir = t.testdir({ 'c.conf': 'modules = fs-ext4\ncompress gzip\ncompress-runtime none\ncompress-modules archive\n' })
  const out = `${dir}/x.img`
  const built = await runTool(mkinitramfsTool, [...base, '--config', `${dir}/c.conf`, '-o', out])
  t.equal(built.code, 0)
  t.match(built.err, new RegExp(`^${out}: .* \\(gzip, runtime none\\) from `, 'm'), "the file's runtime archive, no module compressed on its own")
  const flags = await runTool(mkinitramfsTool, [...base, '--config', `${dir}/c.conf`, '-o', out, '--compress-runtime', 'same', '--compress-modules', 'each'])
  t.match(flags.err, new RegExp(`^${out}: .* \\(gzip, 2 modules each compressed\\) from `, 'm'), 'the flags win')
  await t.rejects(runTool(mkinitramfsTool, [...base, '--no-config', '-o', out, '--compress-runtime', 'lz4:9']), /--compress-runtime: "lz4:9": the runtime's archive takes no level/)
  await t.rejects(runTool(mkinitramfsTool, [...base, '--no-config', '-o', out, '--compress-modules', 'eech']), /--compress-modules: "eech" \(did you mean "each"\?\): expected each or archive/)
})

t.test('bad flags are usage errors that say what is accepted', async (t) => {
  await t.rejects(runTool(mkinitramfsTool, [...base, '--no-config', '-o', '/tmp/x', '--compress', 'brotli']), UsageError)
  await t.rejects(runTool(mkinitramfsTool, [...base, '--no-config', '-o', '/tmp/x', '--compress', 'gzip:12']), /--compress: gzip level must be a whole number from 1 to 9/)
  await t.rejects(runTool(mkinitramfsTool, [...base, '--no-config', '--list', '--modules=-host']), /--modules: "-host": only a module, alias, class or path pattern can be removed/)
  await t.rejects(runTool(mkinitramfsTool, [...base, '--no-config', '--list', '-m', 'nosuch']), /module nosuch: not found/)
  const dir = t.testdir()
  writeFileSync(`${dir}/f`, '')
  await t.rejects(runTool(mkinitramfsTool, [...base, '--no-config', '--list', '--add', 'relative:/x', '-m', 'ext4']), /add/)
})

t.test('missing firmware: each module a line, a long list cut with the command that prints it whole', async (t) => {
  const many = Array.from({ length: 20 }, (_, i) => `amdgpu/part${i}.bin`)
  const text = formatMissingFirmware({ missingFirmware: [{ module: 'amdgpu', names: many }, { module: 'tg3', names: ['tigon/tg3.bin', 'tigon/tg3_tso.bin'] }] })
  const lines = text.trimEnd().split('\n')
  t.match(lines[0], /^mkinitramfs: warning: 2 modules declare firmware that is not installed/)
  t.equal(lines[1], `  amdgpu: ${many.slice(0, 8).join(' ')} and 12 more (modload modinfo -F firmware amdgpu, or --json)`)
  t.equal(lines[2], '  tg3: tigon/tg3.bin tigon/tg3_tso.bin')
  const nine = formatMissingFirmware({ missingFirmware: [{ module: 'x', names: many.slice(0, 9) }] })
  t.match(nine, `  x: ${many.slice(0, 9).join(' ')}\n`, 'one more than shown: printed, not "and 1 more"')
})
