// Host-only images for every QEMU machine of qemu/machines.ts, end to end: each machine's /sys is captured in one boot
// of the whole module tree (qemu/capture.ts), a default image (host + usb-host + input) is built
// from that capture on the host with `mkinitramfs --sysfs`, and booting it on the same machine
// must give the same live module set as the whole tree did, from an image a fraction its size,
// less exactly what the default leaves to the root's loader (kvm,
// crypto accelerators, sound, watchdogs: mkinitramfs --json's leftToRoot, and their dependencies).
import t from 'tap'
import { run } from '../qemu/exec.js'
import { readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { buildModuleDb, loadOrder } from '../src/core/moddb.js'
import { ensureKernel } from '../qemu/kernels.js'
import { ensureHostTools } from '../qemu/deps.js'
import { markers } from '../qemu/boot.js'
import { bootPastKernelBugs } from '../qemu/kernel-bugs.js'
import { ensureExecutable, ensureImage, executable } from '../qemu/artefacts.js'
import { captureMachine } from '../qemu/capture.js'
import { DEFAULT_SELECTORS } from '../src/image/classes.js'
import { machineNames } from '../qemu/machines.js'

const machines = machineNames

t.before(async () => {
  await ensureHostTools()
  await ensureExecutable()
})

for (const machine of machines) {
  t.test(`host-only image for ${machine} (6.1)`, async (t) => {
    const kernel = await ensureKernel('6.1')
    const cap = await captureMachine(kernel, machine)
    const fullLive = cap.markers.filter((l) => l.startsWith('live ')).map((l) => l.slice(5)).sort()
    t.ok(fullLive.length > 5, `the whole tree left ${fullLive.length} modules live`)
    const all = await ensureImage({ kernel, modules: 'all', name: 'all', compress: 'lz4', moduleFiles: 'archive' })
    // zstd, as mkinitramfs's default: the runtime goes in an lz4 archive of its own before it
    const image = await ensureImage({ kernel, modules: [...DEFAULT_SELECTORS], sysfs: cap.dir, name: `host-${machine}`, compress: 'zstd' })
    const ratio = statSync(image).size / statSync(all).size
    t.comment(`image ${(statSync(image).size / 1e6).toFixed(1)} MB, ${(100 * ratio).toFixed(0)}% of the whole tree's`)
    t.ok(ratio < 0.75, 'much smaller than the whole tree (the executable itself is ~100 MB of both)')
    const r = await bootPastKernelBugs({ kernel, initrd: image, machine, append: 'modload.halt', timeoutMs: 300_000 }, `host-only image on ${machine}`)
    const m = markers(r.lines).map((l) => l.slice('modload: '.length))
    t.notOk(r.timedOut, 'powered off by itself')
    t.notOk(r.panicked, 'no kernel panic')
    const live = m.filter((l) => l.startsWith('live ')).map((l) => l.slice(5)).sort()
    const listed = await run(executable, ['mkinitramfs', '--json', '--kernel-root', kernel.root, '-k', kernel.version, '--modules', DEFAULT_SELECTORS.join(','), '--no-modprobe-d', '--sysfs', cap.dir])
    const leftToRoot = (JSON.parse(listed.stdout.toString()) as { leftToRoot: string[] }).leftToRoot
    t.ok(leftToRoot.includes('kvm') || !fullLive.includes('kvm'), `left to the root (processor features, late classes): ${leftToRoot.join(' ')}`)
    // and what was live only as their dependency (soundcore for snd_hda_intel, watchdog for
    // i6300esb): a module nothing loads is not live, even when the image holds it
    const modDir = path.join(kernel.root, 'lib/modules', kernel.version)
    const db = buildModuleDb(modDir, { dep: readFileSync(path.join(modDir, 'modules.dep'), 'utf8') })
    const theirDeps = new Set(leftToRoot.flatMap((n) => loadOrder(db, n).order.map((d) => d.name)))
    const expected = fullLive.filter((x) => !leftToRoot.includes(x))
    const missing = expected.filter((x) => !live.includes(x) && !theirDeps.has(x))
    const extra = live.filter((x) => !expected.includes(x))
    t.same({ missing, extra }, { missing: [], extra: [] }, 'the same live modules as with the whole tree, less what was left to the root and their dependencies')
    if (missing.length || extra.length) t.comment(m.join('\n'))
  })
}
