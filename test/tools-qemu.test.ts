// The kmod-compatible tools against a real kernel in QEMU (TCG), one boot per kernel: the
// kernel runs a busybox script as rdinit (test/fixtures/tools/qemu-tools.sh) that calls the
// tool links in /usr/lib/modload and prints a marker line per case; this test asserts on those.
// Cases: insmod and modprobe with parameters, modprobe -r of a module with dependencies (unused
// ones go, used ones stay), rmmod and modprobe -r of busy modules, --first-time, an install
// command through busybox's /bin/sh that calls modprobe again, and without /bin/sh, a module with a tampered
// signature under module.sig_enforce=1, and the kernel calling our helper for a filesystem.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { ensureKernel, kernelFlavors } from '../qemu/kernels.js'
import { ensureDebianPackages, ensureHostTools } from '../qemu/deps.js'
import { boot, markers } from '../qemu/boot.js'
import { ensureExecutable, ensureImage } from '../qemu/artefacts.js'
import { cacheDir } from '../qemu/paths.js'
import { openModuleDb } from '../src/core/moddb-fs.js'

const script = path.join(import.meta.dirname, 'fixtures', 'tools', 'qemu-tools.sh')

t.before(async () => {
  await ensureHostTools()
  await ensureDebianPackages(['busybox-static'])
  await ensureExecutable()
})

/** The module's uncompressed bytes with one byte of its signature flipped. */
async function tamperedSignature(file: string): Promise<Buffer> {
  const raw = file.endsWith('.xz') ? execFileSync('xz', ['-dc', file]) : await readFile(file)
  const magic = '~Module signature appended~\n'
  if (raw.subarray(raw.length - magic.length).toString('latin1') !== magic) throw new Error(`${file} is not signed`)
  const out = Buffer.from(raw)
  // the last byte before the 12-byte module_signature trailer ends the signature value
  out[out.length - magic.length - 12 - 1] ^= 0xff
  return out
}

/** "key=value" fields of a marker line ("test NAME rc=0 a=1 out=...": out= runs to the end). */
function fields(line: string): Record<string, string> {
  const o: Record<string, string> = {}
  const outAt = line.indexOf(' out=')
  const head = outAt < 0 ? line : line.slice(0, outAt)
  if (outAt >= 0) o.out = line.slice(outAt + 5)
  for (const w of head.split(' ')) {
    const eq = w.indexOf('=')
    if (eq > 0) o[w.slice(0, eq)] = w.slice(eq + 1)
  }
  return o
}

for (const flavor of kernelFlavors) {
  t.test(`tools on ${flavor}`, async (t) => {
    const kernel = await ensureKernel(flavor)
    const db = openModuleDb(kernel.root, kernel.version)
    const needed = ['loop', 'dummy', '8021q', 'bridge', 'minix', 'veth', 'nlmon']
    for (const m of needed) if (!db.modules.has(m)) throw new Error(`${m} is not a module in ${kernel.version}: pick another for this test`)
    const bad = path.join(cacheDir, 'tmp', `nlmon-badsig-${kernel.version}.ko`)
    await mkdir(path.dirname(bad), { recursive: true })
    await writeFile(bad, await tamperedSignature(path.join(kernel.root, 'lib', 'modules', kernel.version, db.modules.get('nlmon')!.path)))
    const image = await ensureImage({
      kernel,
      name: 'tools',
      modules: needed.filter((m) => m !== 'nlmon'),
      add: [
        ['/bin/busybox', '/bin/busybox'],
        [script, '/test.sh'],
        [bad, '/badsig/nlmon.ko'],
      ],
    })
    const r = await boot({ kernel, initrd: image, machine: 'virtio', append: 'rdinit=/test.sh module.sig_enforce=1', timeoutMs: 300_000 })
    const m = markers(r.lines, 'modload: test ').map((l) => l.slice('modload: test '.length))
    t.comment(m.join('\n'))
    t.notOk(r.timedOut, 'powered off by itself')
    t.notOk(r.panicked, 'no kernel panic')
    const get = (name: string): Record<string, string> => {
      const line = m.find((l) => l.startsWith(`${name} `))
      t.ok(line, `marker for ${name}`)
      return fields(line ?? '')
    }
    t.same(get('insmod-params'), { rc: '0', max_loop: '4', out: '' }, 'insmod loop max_loop=4: visible in /sys/module/loop/parameters')
    const mp = get('modprobe-params')
    t.match(mp, { rc: '0', dummy2: 'yes' }, 'modprobe dummy numdummies=3 made dummy0..2')
    t.match(mp.out, /^insmod \/lib\/modules\/\S+\/dummy\.ko(\.xz|\.zst)? numdummies=3\|$/, '-v prints kmod\'s insmod line')
    const deps = get('modprobe-deps')
    t.match(deps, { rc: '0', '8021q': '1', garp: '1', mrp: '1', stp: '1', llc: '1' }, 'modprobe 8021q loads its dependencies')
    t.match(deps.out, /^(insmod \S+ \|){4}insmod \S+8021q\.ko\S* \|$/, 'one insmod line per module, dependencies first')
    const rm = get('modprobe-r')
    t.match(rm, { rc: '0', '8021q': '0', garp: '0', mrp: '0', stp: '1', llc: '1', bridge: '1' }, 'modprobe -r 8021q: unused dependencies gone, those bridge uses stay')
    t.equal(rm.out, 'rmmod 8021q|rmmod garp|rmmod mrp|', '-v prints kmod\'s rmmod lines')
    const busy = get('rmmod-busy')
    t.match(busy, { rc: '1', llc: '1' })
    t.match(busy.out, /^rmmod: ERROR: Module llc is in use by: (stp bridge|bridge stp)\|$/, "rmmod's message names the holders")
    t.same(get('modprobe-r-busy'), { rc: '1', stp: '1', out: 'modprobe: FATAL: Module stp is in use.|' })
    t.same(get('first-time'), { rc: '1', out: "modprobe: ERROR: could not insert 'loop': Module already in kernel|" }, '--first-time')
    const inst = get('install-command')
    t.match(inst, { rc: '0', veth: '1' }, 'the install command ran through /bin/sh and its nested modprobe loaded veth')
    t.match(inst.out, /^install echo installing \$MODPROBE_MODULE \$CMDLINE_OPTS; \S+ --ignore-install veth \$CMDLINE_OPTS \|installing veth\|insmod \S+\/veth\.ko\S* \|$/, '-v passed on to the nested modprobe through MODPROBE_OPTIONS')
    const noShell = get('no-shell')
    t.equal(noShell.rc, '1')
    t.match(noShell.out, /^modprobe: ERROR: cannot run install command 'echo never' for module needs_shell: \/bin\/sh is missing .*\|modprobe: ERROR: could not insert 'needs_shell': Invalid argument\|$/, 'no /bin/sh: the command and the missing shell named')
    const sig = get('bad-signature')
    t.match(sig, { rc: '1', nlmon: '0', enforce: 'Y' })
    t.match(sig.out, /^insmod: ERROR: could not insert module \/badsig\/nlmon\.ko: Key was rejected by service\|insmod: hint: .*sign/, 'a clear message')
    t.match(get('helper-fs'), { minix: '1', fs: '1', helper: '/usr/lib/modload/modprobe' }, 'mount -t minix made the kernel call our helper')
    t.ok(m.includes('done'), 'the script ran to the end')
  })
}
