// The kernel's module requests served by init (src/load/forward.ts) and the tiny helper the
// kernel runs for them (src/sys/modprobe-forward.c): argument parsing, what a request loads,
// and the helper talking to a real server over the socket (as root, where /run is writable).
import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { accessSync, constants, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildModuleDb } from '../src/core/moddb.js'
import { buildConfig } from '../src/config/config.js'
import { FORWARD_DIR, FORWARD_HELPER, parseRequest, serveRequest, startForwarding, type RequestContext } from '../src/load/forward.js'
import { SysError } from '../src/sys/syscalls.js'

t.test('the helper call: -q -- NAME, one module, no other option', async (t) => {
  t.same(parseRequest(['-q', '--', 'crypto-crc64-rocksoft']), { names: ['crypto-crc64-rocksoft'] })
  t.same(parseRequest(['-q', 'fs-ext4']), { names: ['fs-ext4'] }, 'older kernels pass no --')
  t.same(parseRequest(['-q', '--', '-weird']), { names: ['-weird'] }, 'after --, a name')
  t.match(parseRequest(['-r', 'x']), { error: /unsupported option -r/ })
  t.match(parseRequest(['-q', '--']), { error: /no module/ })
  t.match(parseRequest(['a', 'b']), { error: /expected one module/ })
})

const db = buildModuleDb('/lib/modules/k', {
  dep: 'kernel/snd-hda-codec-generic.ko: kernel/ledtrig-audio.ko\nkernel/ledtrig-audio.ko:\nkernel/crc64_rocksoft_generic.ko:\nkernel/broken.ko:\nkernel/evil.ko:\n',
  alias: 'alias crypto-crc64-rocksoft crc64_rocksoft_generic\nalias crypto-evil evil\n',
  builtin: 'kernel/crypto/cryptomgr.ko\n',
})

function ctx(conf = '', loadedAlready: string[] = []) {
  const loads: string[] = []
  const c: RequestContext = {
    db,
    config: buildConfig([{ path: 'test.conf', text: conf }], '').config,
    load: async (path) => {
      const name = path.split('/').at(-1)!.replace('.ko', '')
      if (name === 'broken') throw new SysError('finit_module', 8, path)
      if (name === 'crc64_rocksoft_generic' && loadedAlready.includes('race')) throw new SysError('finit_module', 17, path)
      loads.push(name)
    },
    isLoaded: (n) => loadedAlready.includes(n),
  }
  return { c, loads }
}

t.test('a request loads what modprobe would, dependencies first', async (t) => {
  const { c, loads } = ctx()
  t.same(await serveRequest(c, 'snd-hda-codec-generic'), { ok: true, loaded: ['ledtrig_audio', 'snd_hda_codec_generic'], why: undefined })
  t.same(loads, ['ledtrig-audio', 'snd-hda-codec-generic'])
  t.match(await serveRequest(c, 'crypto-crc64-rocksoft'), { ok: true, loaded: ['crc64_rocksoft_generic'] }, 'through modules.alias')
  t.match(await serveRequest(c, 'cryptomgr'), { ok: true, loaded: [] }, 'built in')
  t.match(await serveRequest(c, 'crypto-cryptd(__ghash-pclmulqdqni)'), { ok: false, why: 'no module matches' })
  t.match(await serveRequest(c, 'broken'), { ok: false, why: /broken: .*ENOEXEC/ })
})

t.test('already loaded, loaded meanwhile (EEXIST), blacklisted alias, install command', async (t) => {
  const a = ctx('', ['ledtrig_audio'])
  t.match(await serveRequest(a.c, 'snd-hda-codec-generic'), { ok: true, loaded: ['snd_hda_codec_generic'] }, 'a live dependency is not loaded again')
  const b = ctx('', ['race'])
  t.match(await serveRequest(b.c, 'crypto-crc64-rocksoft'), { ok: true, loaded: [] }, 'EEXIST: someone else loaded it')
  const c = ctx('blacklist evil\ninstall broken /bin/true\n')
  t.match(await serveRequest(c.c, 'crypto-evil'), { ok: false, why: 'evil is blacklisted' }, 'the blacklist applies to aliases')
  t.match(await serveRequest(c.c, 'broken'), { ok: false, why: /install command/ })
  t.same(c.loads, [])
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
