// `modload integrate` (src/tools/integrate.ts over src/integrate/integrate.ts): the files it
// installs and removes under --root, what it prints, the forms the installed scripts call, and
// that the embedded scripts (src/integrate/scripts.ts) are the shell files of
// initramfs/integrate/ and parse. Booting images made with them: test/integrate-qemu.test.ts.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { integrateTool } from '../src/tools/integrate.js'
import { BUILDERS, FILES, MARK, NEXT_STEP, runtimeArchive, selectionLines } from '../src/integrate/integrate.js'
import { readCpio, writeCpio } from '../src/initramfs/cpio.js'
import { gzipSync } from 'node:zlib'
import { ensureDebianPackages } from '../qemu/deps.js'
import { SCRIPTS } from '../src/integrate/scripts.js'
import { embeddedFiles, generatedFile, readSources, scriptsModule } from '../initramfs/integrate/embed.js'
import { COMMANDS } from '../src/commands.js'
import type { ToolIo } from '../src/tools/io.js'

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const io: ToolIo = {
    prog: 'integrate',
    out: (s) => void (out += s),
    err: (s) => void (err += s),
    sys: () => {
      throw new Error('no syscalls here')
    },
    stdin: async () => '',
  }
  const code = await integrateTool.run(argv, io)
  return { code, out, err }
}

function tmp(t: { teardown: (f: () => void) => void }): string {
  const d = mkdtempSync(path.join(tmpdir(), 'modload-integrate-'))
  t.teardown(() => rmSync(d, { recursive: true, force: true }))
  return d
}

t.test('the embedded scripts are the shell files of initramfs/integrate (run embed.ts after editing them)', async (t) => {
  t.equal(readFileSync(generatedFile, 'utf8'), scriptsModule(readSources()), 'src/integrate/scripts.ts is current: node build/run.mjs initramfs/integrate/embed.ts')
  t.same(Object.keys(SCRIPTS).sort(), [...embeddedFiles].sort())
  for (const b of BUILDERS) for (const f of FILES[b]) t.ok(SCRIPTS[f.source].includes(MARK), `${f.source} carries the mark`)
})

t.test('each script parses (sh -n; bash -n for dracut\'s module-setup.sh)', async (t) => {
  for (const name of embeddedFiles.filter((n) => !n.endsWith('.service'))) {
    const shell = name.endsWith('module-setup.sh') ? 'bash' : 'sh'
    const r = spawnSync(shell, ['-n'], { input: SCRIPTS[name] })
    t.equal(r.status, 0, `${shell} -n ${name}: ${r.stderr}`)
  }
})

t.test("dracut with systemd: modload-stop.service runs the stop script where module-setup.sh puts it", async (t) => {
  const unit = SCRIPTS['dracut/90modload/modload-stop.service']
  const exec = /^ExecStart=\/bin\/sh (\S+)$/m.exec(unit)
  t.ok(exec, 'the unit runs a shell script')
  const setup = SCRIPTS['dracut/90modload/module-setup.sh']
  t.match(setup, `inst_simple "$moddir/modload-stop.sh" ${exec?.[1]}`, 'installed at the path the unit runs')
  t.match(setup, 'add-wants initrd.target modload-stop.service', 'wanted by initrd.target')
  t.match(unit, /^Before=.*initrd-cleanup\.service/m, 'before initrd-cleanup stops udev and switches root')
  t.match(unit, /^ConditionPathExists=\/run\/modload-coldplug\.pid$/m, 'only when the pre-trigger hook left coldplug running')
  t.match(SCRIPTS['dracut/90modload/modload-coldplug.sh'], '/run/modload-coldplug.pid', 'the file the hook writes')
  const code = SCRIPTS['dracut/90modload/modload-stop.sh'].split('\n').filter((l) => !/^\s*#/.test(l)).join('\n')
  t.notMatch(code, /\bexit\b|getarg|dracut-lib/, 'runs alone and sourced: no exit, nothing of dracut-lib')
})

t.test('integrate is a command', async (t) => {
  t.ok(COMMANDS.some((c) => c.name === 'integrate'))
})

t.test('initramfs-tools: install under --root, then remove', async (t) => {
  const root = tmp(t)
  const r = await run(['initramfs-tools', '--root', root, '--modload', '/opt/mod load/modload'])
  t.equal(r.code, 0, r.err)
  const hook = path.join(root, 'etc/initramfs-tools/hooks/modload')
  const conf = path.join(root, 'etc/initramfs-tools/conf.d/modload')
  t.equal(statSync(hook).mode & 0o777, 0o755)
  t.equal(statSync(conf).mode & 0o777, 0o644)
  t.match(readFileSync(hook, 'utf8'), "MODLOAD=${MODLOAD:-'/opt/mod load/modload'}", 'the executable, quoted for sh')
  t.notMatch(readFileSync(hook, 'utf8'), '@MODLOAD@')
  t.match(r.out, 'wrote /etc/initramfs-tools/hooks/modload')
  t.match(r.out, 'update-initramfs -u')
  t.match(r.out, 'Undo: modload integrate initramfs-tools --remove')

  // again: the hook is replaced, the settings (edited) kept
  writeFileSync(conf, readFileSync(conf, 'utf8').replace('MODLOAD_UDEV=replace', 'MODLOAD_UDEV=beside'))
  const again = await run(['initramfs-tools', '--root', root, '--modload', '/usr/sbin/modload'])
  t.match(again.out, 'replaced /etc/initramfs-tools/hooks/modload')
  t.match(again.out, 'kept /etc/initramfs-tools/conf.d/modload')
  t.match(readFileSync(conf, 'utf8'), 'MODLOAD_UDEV=beside')

  const rm = await run(['initramfs-tools', '--remove', '--root', root])
  t.equal(rm.code, 0)
  t.notOk(existsSync(hook))
  t.notOk(existsSync(conf))
  t.match(rm.out, `Next, rebuild the image without modload:\n  ${NEXT_STEP['initramfs-tools']}`)
  const twice = await run(['initramfs-tools', '--remove', '--root', root])
  t.equal(twice.code, 0)
  t.match(twice.out, '/etc/initramfs-tools/hooks/modload: not installed')
  t.notMatch(twice.out, 'Next')
})

t.test('dracut: the module directory and the conf file; --remove leaves what is not ours', async (t) => {
  const root = tmp(t)
  const r = await run(['dracut', '--root', root, '--modload', '/usr/sbin/modload'])
  t.equal(r.code, 0, r.err)
  const dir = path.join(root, 'usr/lib/dracut/modules.d/90modload')
  t.equal(statSync(path.join(dir, 'module-setup.sh')).mode & 0o777, 0o755)
  t.equal(statSync(path.join(dir, 'modload-coldplug.sh')).mode & 0o777, 0o755)
  t.match(readFileSync(path.join(root, 'etc/dracut.conf.d/90-modload.conf'), 'utf8'), 'add_dracutmodules+=" modload "')
  t.match(readFileSync(path.join(dir, 'module-setup.sh'), 'utf8'), 'MODLOAD=${MODLOAD:-/usr/sbin/modload}')
  t.match(r.out, 'dracut -f')

  // someone else's file of the same name stays, and says so in the exit code
  writeFileSync(path.join(root, 'etc/dracut.conf.d/90-modload.conf'), 'add_dracutmodules+=" mine "\n')
  const rm = await run(['dracut', '--remove', '--root', root])
  t.equal(rm.code, 1)
  t.match(rm.out, 'left /etc/dracut.conf.d/90-modload.conf: not written by modload integrate')
  t.notOk(existsSync(dir), 'the emptied module directory goes too')
})

t.test('a settings file already there and not ours is kept on install', async (t) => {
  const root = tmp(t)
  mkdirSync(path.join(root, 'etc/initramfs-tools/conf.d'), { recursive: true })
  writeFileSync(path.join(root, 'etc/initramfs-tools/conf.d/modload'), 'MODLOAD_UDEV=off\n')
  const r = await run(['initramfs-tools', '--root', root])
  t.equal(r.code, 0)
  t.equal(readFileSync(path.join(root, 'etc/initramfs-tools/conf.d/modload'), 'utf8'), 'MODLOAD_UDEV=off\n')
  t.match(readFileSync(path.join(root, 'etc/initramfs-tools/hooks/modload'), 'utf8'), 'MODLOAD=${MODLOAD:-/usr/sbin/modload}', 'default executable with --root')
})

t.test('usage errors', async (t) => {
  await t.rejects(run([]), /name a builder/)
  await t.rejects(run(['mkinitcpio']), /unknown builder; known: initramfs-tools, dracut/)
  await t.rejects(run(['dracut', '--modload', 'modload']), /absolute path/)
  await t.rejects(run(['dracut', '--remove', '--modload', '/x']), /--modload goes with installing/)
  await t.rejects(run(['dracut', '--boot-script', 'init-top']), /--boot-script: initramfs-tools has/)
  await t.rejects(run(['initramfs-tools', '--boot-script', 'local-top']), /--boot-script/)
  await t.rejects(run(['initramfs-tools', '--selection']), /needs -k/)
  await t.rejects(run(['initramfs-tools', 'extra']), /unexpected argument/)
  t.match((await run(['--help'])).out, 'usage: modload integrate')
})

t.test('--boot-script prints what the hook puts in the image', async (t) => {
  t.equal((await run(['initramfs-tools', '--boot-script', 'init-top'])).out, SCRIPTS['initramfs-tools/init-top'])
  t.equal((await run(['initramfs-tools', '--boot-script', 'init-bottom'])).out, SCRIPTS['initramfs-tools/init-bottom'])
  t.equal((await run(['initramfs-tools', '--boot-script', 'udevadm'])).out, SCRIPTS['initramfs-tools/udevadm'])
})

t.test("the udevadm stand-in answers settle while udevd's socket is absent and hands the rest to udevadm", async (t) => {
  const dir = tmp(t)
  const socket = path.join(dir, 'control')
  const real = path.join(dir, 'udevadm')
  const calls = path.join(dir, 'calls')
  writeFileSync(real, `#!/bin/sh\necho "$*" >>${calls}\nexit 3\n`, { mode: 0o755 })
  const text = SCRIPTS['initramfs-tools/udevadm']
  t.match(text, '/run/udev/control')
  t.match(text, 'exec /usr/lib/modload/udev/udevadm "$@"', 'where the hook keeps udevadm')
  const standIn = text.replaceAll('/run/udev/control', socket).replaceAll('/usr/lib/modload/udev/udevadm', real)
  const udevadm = (...args: string[]) => {
    const r = spawnSync('sh', ['-c', standIn, 'udevadm', ...args], { encoding: 'utf8' })
    return { status: r.status, calls: existsSync(calls) ? readFileSync(calls, 'utf8') : '' }
  }
  t.same(udevadm('settle', '--timeout=10'), { status: 0, calls: '' }, 'no udevd: settle returns 0 without udevadm')
  t.same(udevadm('trigger', '--action=add'), { status: 3, calls: 'trigger --action=add\n' }, 'anything else is udevadm\'s, its exit status kept')
  writeFileSync(socket, '')
  t.same(udevadm('settle', '--timeout=10'), { status: 3, calls: 'trigger --action=add\nsettle --timeout=10\n' }, 'udevd runs (its socket is there): settle is udevadm\'s')
  rmSync(calls)
  t.same(udevadm(), { status: 3, calls: '\n' }, 'no arguments: udevadm\'s')
})

t.test("selectionLines: modules, the root's chain, its disk's part (no file system), then firmware relative to /lib/firmware", async (t) => {
  t.equal(
    selectionLines({
      modules: [
        { name: 'virtio_blk', reasons: [{ kind: 'device' }, { kind: 'root', what: 'device /dev/vda1' }] },
        { name: 'virtio_pci', reasons: [{ kind: 'root', what: 'device /dev/vda1 (pci:v00001AF4d00001001sv*)' }] },
        { name: 'ext4', reasons: [{ kind: 'root', what: 'filesystem ext4' }] },
        { name: 'evdev', reasons: [{ kind: 'class' }] },
        { name: 'sha256_ssse3', reasons: [{ kind: 'signature-hash', hash: 'sha256' }] },
      ],
      firmware: [{ path: '/lib/firmware/i915/kbl_dmc_ver1_04.bin' }, { path: '/lib/firmware/updates/x.bin' }, { path: '/usr/lib/firmware/y.bin' }, { path: '/etc/odd' }],
    }),
    'module virtio_blk\nmodule virtio_pci\nmodule ext4\nmodule evdev\nmodule sha256_ssse3\nroot virtio_blk\nroot virtio_pci\nroot ext4\nrootdev virtio_blk\nrootdev virtio_pci\nsighash sha256 sha256_ssse3\nfirmware i915/kbl_dmc_ver1_04.bin\nfirmware updates/x.bin\nfirmware y.bin\n',
  )
  t.equal(selectionLines({ modules: [], firmware: [] }), '')
})

t.test("dracut's installkernel: the modules and firmware of the selection, and the root disk's drivers (not its file system) as the chain loaded first", async (t) => {
  const d = tmp(t)
  const initdir = path.join(d, 'initdir')
  mkdirSync(initdir)
  mkdirSync(path.join(d, 'fw'))
  writeFileSync(path.join(d, 'fw', 'a.bin'), '')
  // the selection as `modload integrate dracut --selection` prints it for a root on a SCSI HBA
  const selection = 'module sym53c8xx\nmodule scsi_transport_spi\nmodule ext4\nmodule evdev\nmodule sha256_ssse3\nroot sym53c8xx\nroot sd_mod\nroot ext4\nrootdev sym53c8xx\nrootdev sd_mod\nsighash sha256 sha256_ssse3\nfirmware a.bin\n'
  writeFileSync(path.join(d, 'modload'), `#!/bin/sh\nprintf '${selection.replace(/\n/g, '\\n')}'\n`, { mode: 0o755 })
  const script = [
    'dwarn() { echo "W: $*" >&2; }',
    'instmods() { echo "instmods $*" >> "$LOG"; }',
    'inst_simple() { echo "inst_simple $*" >> "$LOG"; }',
    'srcmods=/lib/modules/6.1.0-test',
    'kernel=6.1.0-test',
    `fw_dir=${path.join(d, 'fw')}`,
    `initdir=${initdir}`,
    `MODLOAD=${path.join(d, 'modload')}`,
    `. /dev/stdin <<'SETUP'\n${SCRIPTS['dracut/90modload/module-setup.sh']}\nSETUP`,
    'installkernel',
  ].join('\n')
  const log = path.join(d, 'log')
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, LOG: log } })
  t.equal(r.status, 0, r.stderr)
  t.same(readFileSync(log, 'utf8').split('\n').filter(Boolean), ['instmods sym53c8xx scsi_transport_spi ext4 evdev sha256_ssse3', `inst_simple ${path.join(d, 'fw', 'a.bin')} /lib/firmware/a.bin`])
  t.equal(readFileSync(path.join(initdir, 'etc/modload/root-modules'), 'utf8'), 'sym53c8xx\nsd_mod\n', 'the disk\'s drivers, first; dracut loads the file system when it mounts the root')
  t.equal(readFileSync(path.join(initdir, 'etc/modload/signature-hash'), 'utf8'), 'sha256 sha256_ssse3\n', "the CPU's signature hash, recorded as mkinitramfs records it")
  writeFileSync(path.join(d, 'modload'), `#!/bin/sh\nprintf 'module ext4\\nroot ext4\\n'\n`, { mode: 0o755 })
  rmSync(path.join(initdir, 'etc'), { recursive: true })
  t.equal(spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, LOG: log } }).status, 0)
  t.notOk(existsSync(path.join(initdir, 'etc/modload/root-modules')), 'a root whose chain is only its file system: no list')
  t.notOk(existsSync(path.join(initdir, 'etc/modload/signature-hash')), 'no sighash line: no record')
})

t.test('--selection: modload mkinitramfs --json for the kernel, as lines', async (t) => {
  const root = fileURLToPath(new URL('./fixtures/tree', import.meta.url))
  const r = await run(['initramfs-tools', '--selection', '-k', '6.1.0-test', '--kernel-root', root, '--', '--no-config', '-m', 'fs-ext4,virtio_pci'])
  t.equal(r.code, 0, r.err)
  t.match(r.out, /^module ext4$/m)
  t.match(r.out, /^module jbd2$/m, 'with its dependencies')
  t.same(r.out.split('\n').filter((l) => l && !/^(module|firmware) \S+$/.test(l)), [], 'nothing but module and firmware lines')
})

t.test('peers: a root disk whose init lists the live modules, and its parser', async (t) => {
  const { rootInitScript, parseRootModules } = await import('../initramfs/peers.js')
  t.notMatch(rootInitScript(), '/proc/modules', 'the default root init (the benchmarks\' disk) is unchanged')
  const listing = rootInitScript({ listModules: true })
  t.match(listing, 'while read -r name _; do echo "peers: root module $name"; done </proc/modules')
  t.ok(listing.indexOf('uptime=$up') < listing.indexOf('/proc/modules'), 'after the marker: the timing is not touched')
  t.equal(spawnSync('sh', ['-n'], { input: listing }).status, 0)
  t.same(parseRootModules(['peers: root uptime=1 idle=0 pid=1', '[ 3.2] peers: root module virtio_blk', 'peers: root module ext4', 'other']), ['ext4', 'virtio_blk'])
})

t.test('--runtime-cpio: the executable alone in an uncompressed archive, for MODLOAD_RUNTIME=early', async (t) => {
  const d = tmp(t)
  const exe = path.join(d, 'modload')
  const bytes = Buffer.from('\x7fELF pretend executable, odd length: 37')
  writeFileSync(exe, bytes, { mode: 0o755 })
  const out = path.join(d, 'early.cpio')
  const r = await run(['initramfs-tools', '--runtime-cpio', out, '--modload', exe])
  t.equal(r.code, 0, r.err)
  const entries = readCpio(readFileSync(out), out)
  t.same(entries.map((e) => [e.path, e.mode.toString(8)]), [['usr', '40755'], ['usr/sbin', '40755'], ['usr/sbin/modload', '100755']], 'the directories, then the executable where the boot scripts run it')
  t.same(Buffer.from(entries[2].data), bytes, 'byte for byte')
  t.same(readFileSync(out).subarray(0, 6).toString('latin1'), '070701', 'newc, uncompressed: unmkinitramfs walks it as an early archive')
  t.same(runtimeArchive(bytes).map((e) => e.path), ['/usr', '/usr/sbin', '/usr/sbin/modload'], 'the entries, before writeCpio takes the leading slash off')
  // what Debian's own unmkinitramfs (behind lsinitramfs) makes of an image with it in front
  await ensureDebianPackages(['initramfs-tools-core'])
  const image = path.join(d, 'image')
  const main = gzipSync(Buffer.concat([...writeCpio([{ type: 'dir', path: '/etc' }, { type: 'file', path: '/etc/x', data: () => Buffer.from('hi\n') }], 0)]))
  writeFileSync(image, Buffer.concat([readFileSync(out), main]))
  const list = spawnSync('unmkinitramfs', ['--list', image], { encoding: 'utf8' })
  t.equal(list.status, 0, list.stderr)
  t.match(list.stdout, /usr\/sbin\/modload/, 'lsinitramfs lists the executable of the early archive')
  t.match(list.stdout, /etc\/x/, 'and the files of the compressed one behind it')
  await t.rejects(run(['dracut', '--runtime-cpio', out]), /initramfs-tools/)
  await t.rejects(run(['initramfs-tools', '--runtime-cpio', out, '--modload', path.join(d, 'nope')]), /cannot read the executable .*nope/)
})
