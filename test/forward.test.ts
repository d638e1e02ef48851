// The kernel's module requests served by init (src/load/forward.ts) and the tiny helper the
// kernel runs for them (src/sys/modprobe-forward.c): argument parsing, what a request loads,
// and the helper talking to a real server over the socket (as root, where /run is writable).
import t, { type Test } from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { accessSync, constants, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildModuleDb } from '../src/core/moddb.js'
import { buildConfig } from '../src/config/config.js'
import { FORWARD_DIR, FORWARD_HELPER, parseRequest, serveRequest, startForwarding } from '../src/load/forward.js'
import type { ProbeInsertContext } from '../src/load/insert.js'
import { SysError, type Sys } from '../src/sys/syscalls.js'

t.test('the helper call: -q -- NAME, one module, no other option', async (t) => {
  t.same(parseRequest(['-q', '--', 'crypto-crc64-rocksoft']), { names: ['crypto-crc64-rocksoft'] })
  t.same(parseRequest(['-q', 'fs-ext4']), { names: ['fs-ext4'] }, 'older kernels pass no --')
  t.same(parseRequest(['-q', '--', '-weird']), { names: ['-weird'] }, 'after --, a name')
  t.match(parseRequest(['-r', 'x']), { error: /unsupported option -r/ })
  t.match(parseRequest(['-q', '--']), { error: /no module/ })
  t.match(parseRequest(['a', 'b']), { error: /expected one module/ })
})

const dep = 'kernel/snd-hda-codec-generic.ko: kernel/ledtrig-audio.ko\nkernel/ledtrig-audio.ko:\nkernel/crc64_rocksoft_generic.ko:\nkernel/broken.ko:\nkernel/evil.ko:\n'
const MODULES = ['snd-hda-codec-generic', 'ledtrig-audio', 'crc64_rocksoft_generic', 'broken', 'evil']

/** A module tree (files with an ELF start), /sys/module with `live` modules, a config, and a
 * kernel that loads everything but broken.ko (ENOEXEC) and says EEXIST for `race`. */
function ctx(t: Test, conf = '', live: string[] = []) {
  const dir = t.testdir({
    kernel: Object.fromEntries(MODULES.map((m) => [`${m}.ko`, '\x7fELF'])),
    module: Object.fromEntries(live.map((m) => [m, { initstate: 'live\n' }])),
  })
  const db = buildModuleDb(dir, {
    dep,
    alias: 'alias crypto-crc64-rocksoft crc64_rocksoft_generic\nalias crypto-evil evil\n',
    builtin: 'kernel/crypto/cryptomgr.ko\n',
  })
  const loads: string[] = []
  const commands: string[] = []
  const sys = {
    finitModule: () => {
      throw new Error('not on the main thread')
    },
    finitModuleAsync: async (path: string) => {
      const name = path.split('/').at(-1)!.replace('.ko', '')
      if (name === 'broken') throw new SysError('finit_module', 8, path)
      if (name === 'crc64_rocksoft_generic' && live.includes('race')) throw new SysError('finit_module', 17, path)
      loads.push(name)
    },
  } as unknown as Sys
  const c: ProbeInsertContext = {
    db,
    sys: () => sys,
    sysModule: `${dir}/module`,
    report: { log() {}, error() {}, info() {}, show() {} },
    insertEnv: { kernelCompression: () => null },
    run: (cmd) => (commands.push(cmd), { status: 0 }),
  }
  return { c, config: buildConfig([{ path: 'test.conf', text: conf }], '').config, loads, commands }
}

t.test('a request loads what modprobe would, dependencies first', async (t) => {
  const { c, config, loads } = ctx(t)
  t.same(await serveRequest(c, config, 'snd-hda-codec-generic'), { status: 0, messages: [] })
  t.same(loads, ['ledtrig-audio', 'snd-hda-codec-generic'])
  t.match(await serveRequest(c, config, 'crypto-crc64-rocksoft'), { status: 0 }, 'through modules.alias')
  t.same(loads.slice(2), ['crc64_rocksoft_generic'])
  t.match(await serveRequest(c, config, 'cryptomgr'), { status: 0 }, 'built in')
  t.same(loads.length, 3, 'nothing loaded for a built-in')
  t.match(await serveRequest(c, config, 'crypto-cryptd(__ghash-pclmulqdqni)'), { status: 1, messages: [/not found/] })
  t.match(await serveRequest(c, config, 'broken'), { status: 1, messages: [/broken\.ko.*Exec format error/] })
})

t.test('already loaded, loaded meanwhile (EEXIST), blacklisted alias, install command', async (t) => {
  const a = ctx(t, '', ['ledtrig_audio'])
  t.match(await serveRequest(a.c, a.config, 'snd-hda-codec-generic'), { status: 0 })
  t.same(a.loads, ['snd-hda-codec-generic'], 'a live dependency is not loaded again')
  const b = ctx(t, '', ['race'])
  t.match(await serveRequest(b.c, b.config, 'crypto-crc64-rocksoft'), { status: 0 }, 'EEXIST: someone else loaded it')
  t.same(b.loads, [])
  const c = ctx(t, 'blacklist evil\ninstall broken /bin/true\n')
  t.match(await serveRequest(c.c, c.config, 'crypto-evil'), { status: 0 }, 'a blacklisted alias: done, as for kmod')
  t.same(c.commands, [])
  t.match(await serveRequest(c.c, c.config, 'broken'), { status: 0 }, 'the install command runs instead of the load')
  t.same(c.commands, ['/bin/true'])
  t.same(c.loads, [], 'the blacklist applies to aliases; the install command replaces the load')
})

function canUseRun(): boolean {
  try {
    accessSync('/run', constants.W_OK)
    return !existsSync(FORWARD_DIR) // never step on a running modload's helper
  } catch {
    return false
  }
}

t.test('the helper passes its arguments to init and exits with its answer', { skip: !canUseRun() && 'needs a writable /run without /run/modload' }, async (t) => {
  const dir = t.testdir()
  const helper = join(dir, 'modprobe-forward')
  const src = join(import.meta.dirname, '..', 'src', 'sys', 'modprobe-forward.c')
  execFileSync('gcc', ['-Os', '-s', '-static', '-nostdlib', '-ffreestanding', '-fno-builtin', '-fno-stack-protector', '-o', helper, src])
  const seen: string[][] = []
  const registered: string[] = []
  const fw = await startForwarding(readFileSync(helper), async (args) => (seen.push(args), args.at(-1) === 'good' ? 0 : 3), (p) => registered.push(p))
  t.same(registered, [FORWARD_HELPER], 'the kernel is pointed at the installed helper')
  const run = (name: string) => new Promise<number | null>((resolve) => {
    // spawnSync would block the event loop that answers
    import('node:child_process').then(({ spawn }) => spawn(FORWARD_HELPER, ['-q', '--', name]).on('exit', resolve))
  })
  t.equal(await run('good'), 0)
  t.equal(await run('crypto-x(y)'), 3, 'the exit status is init\'s answer')
  t.same(seen, [['-q', '--', 'good'], ['-q', '--', 'crypto-x(y)']])
  fw.close()
  t.notOk(existsSync(FORWARD_DIR), 'closing removes the helper and its socket')
  t.equal(spawnSync(helper, ['-q', '--', 'good']).status, 1, 'nobody listening: modprobe\'s failure status')
})
