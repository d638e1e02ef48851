// npm run demo: the main job end to end. Builds dist/modload, fetches a Debian kernel, captures
// the QEMU machine's /sys (one boot with the whole module tree, cached), builds the default
// host-only image for that machine from the capture (`mkinitramfs --sysfs`), boots it with
// modload.halt, streams what modload says, and ends with a summary of what was loaded.
// Options: --kernel 6.1|6.12, --machine virtio|legacy-pc|q35|hba-mix|odd-mix, --modules default|all|SELECTORS.
import { parseArgs } from 'node:util'
import { ensureHostTools } from './deps.js'
import { ensureKernel, allKernelFlavors, type KernelFlavor } from './kernels.js'
import { ensureExecutable, ensureImage } from './artefacts.js'
import { boot, markers } from './boot.js'
import { machineNames } from './machines.js'
import { statSync } from 'node:fs'
import { captureSysfs } from './capture.js'
import { DEFAULT_SELECTORS } from '../src/image/classes.js'

const { values } = parseArgs({
  options: {
    kernel: { type: 'string', default: '6.1' },
    machine: { type: 'string', default: 'virtio' },
    modules: { type: 'string', default: 'default' },
  },
})
const flavor = values.kernel as KernelFlavor
if (!allKernelFlavors.includes(flavor)) throw new Error(`--kernel ${flavor}: choose one of ${allKernelFlavors.join(', ')}`)
if (!machineNames.includes(values.machine)) throw new Error(`--machine ${values.machine}: choose one of ${machineNames.join(', ')}`)

const step = (s: string): void => console.log(`\n== ${s}`)
step('host tools (qemu, kmod, cpio)')
await ensureHostTools()
step('building dist/modload')
await ensureExecutable()
step(`Debian ${flavor} kernel`)
const kernel = await ensureKernel(flavor)
console.log(`${kernel.packageName}: ${kernel.version}`)
let sysfs: string | undefined
if (values.modules === 'default') {
  step(`capturing the "${values.machine}" machine's /sys (one boot with the whole module tree; cached after the first run)`)
  sysfs = await captureSysfs(kernel, values.machine)
  console.log(sysfs)
}
const modules = values.modules === 'all' ? 'all' : values.modules === 'default' ? [...DEFAULT_SELECTORS] : values.modules.split(',')
step(`initramfs with ${modules === 'all' ? 'the whole module tree' : `the modules of ${modules.join(',')}${sysfs ? ' (host: the capture)' : ''}`}`)
const image = await ensureImage({ kernel, name: `demo-${values.modules === 'all' ? 'all' : values.modules === 'default' ? `host-${values.machine}` : 'some'}`, modules, sysfs, compress: 'lz4' })
console.log(`${image} (${(statSync(image).size / 1e6).toFixed(1)} MB, lz4)`)
step(`booting ${kernel.version} on the "${values.machine}" machine (QEMU, no KVM: takes a while)`)
const r = await boot({
  kernel,
  initrd: image,
  machine: values.machine,
  append: 'modload.halt',
  memMiB: 2048,
  timeoutMs: 600_000,
  onLine: (l) => {
    const i = l.indexOf('modload:')
    if (i >= 0) console.log(l.slice(i))
  },
})
const m = markers(r.lines).map((l) => l.slice('modload: '.length))
const num = (marker: string): number => Number(/uptime=(\d+(?:\.\d+)?)/.exec(m.find((l) => l.startsWith(`${marker} `)) ?? '')?.[1])
step('summary')
const loaded = m.filter((l) => l.startsWith('live ')).map((l) => l.split(' ')[1])
const failed = m.filter((l) => l.startsWith('failed ')).map((l) => l.split(':')[0].slice(7))
console.log(`live after coldplug, all loaded by modload (${loaded.length}): ${loaded.join(' ')}`)
if (failed.length) console.log(`refused by the kernel (${failed.length}): ${failed.join(' ')} (see the lines above for why)`)
console.log(`devices: ${m.filter((l) => l.startsWith('net ') || l.startsWith('block ')).join(', ')}`)
console.log(`kernel start -> modload start: ${num('start')} s; -> settled: ${num('settled')} s; -> halt: ${num('halt')} s (guest clock, TCG)`)
console.log(`QEMU wall time: ${(r.durationMs / 1000).toFixed(1)} s`)
if (r.timedOut || r.panicked || !m.some((l) => l.startsWith('halt '))) {
  console.log(`the boot did not finish cleanly (timed out: ${r.timedOut}, panic: ${r.panicked}); console tail:`)
  console.log(r.lines.slice(-30).join('\n'))
  process.exitCode = 1
}
