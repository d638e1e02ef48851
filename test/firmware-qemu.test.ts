// End-to-end firmware: a test module (test/modules/modload_fwtest) that calls request_firmware()
// for modload-test/fw.bin in its init, loaded by modload as /init (modload.load=) on the 6.1
// kernel in QEMU. With the file in the image's /lib/firmware the module prints its size and
// first bytes; without it the kernel answers -ENOENT, the module's init fails with it and
// modload reports the failure. Two boots. `loglevel=7` puts the module's pr_info line on the
// console despite `quiet`.
import t, { type Test } from 'tap'
import path from 'node:path'
import { ensureExecutable, ensureImage } from '../qemu/artefacts.js'
import { boot, markers, type BootResult } from '../qemu/boot.js'
import { ensureHostTools } from '../qemu/deps.js'
import { ensureKernel, type Kernel } from '../qemu/kernels.js'
import { ensureTestRoot, type TestRoot } from '../qemu/test-modules.js'

const FW_NAME = 'modload-test/fw.bin'
// "modload!" then three bytes: the module prints the size and the first eight in hex
const FW = Buffer.concat([Buffer.from('modload!'), Buffer.from([0x01, 0xfe, 0x7f])])
const FW_LINE = `modload_fwtest: firmware loaded size=${FW.length} first=${FW.subarray(0, 8).toString('hex')}`
const MODULES = ['modload_fwtest', 'virtio_pci']
const APPEND = 'modload.halt modload.load=modload_fwtest loglevel=7'

let kernel: Kernel
t.before(async () => {
  await ensureHostTools()
  await ensureExecutable()
  kernel = await ensureKernel('6.1')
})

/** An image of `root` (its kernel modules with the test modules in extra/). */
async function image(root: TestRoot): Promise<string> {
  return ensureImage({ kernel: { ...kernel, root: root.root }, name: `fw-${path.basename(root.root)}`, modules: MODULES })
}

function show(t: Test, r: BootResult): { modload: string[]; module: string[] } {
  const modload = markers(r.lines).map((l) => l.slice('modload: '.length).replace(/\[\s*\d+\.\d+\] .*$/, ''))
  const module = markers(r.lines, 'modload_fwtest: ')
  t.comment([...modload.filter((l) => !l.startsWith('live ')), ...module].join('\n'))
  if (r.timedOut || r.panicked) t.comment(r.lines.slice(-40).join('\n'))
  return { modload, module }
}

t.test('the firmware file is in the image: the kernel loads it for the module', async (t) => {
  const root = await ensureTestRoot(kernel, { name: 'fwtest', firmware: { [FW_NAME]: FW } })
  // mkinitramfs finds the firmware itself, from the module's MODULE_FIRMWARE and --kernel-root
  const r = await boot({ kernel, initrd: await image(root), machine: 'virtio', append: APPEND, timeoutMs: 240_000 })
  const m = show(t, r)
  t.notOk(r.timedOut, 'powered off by itself')
  t.notOk(r.panicked, 'no kernel panic')
  t.ok(m.module.includes(FW_LINE), `the module got the file: ${FW_LINE}`)
  t.ok(m.modload.includes('live modload_fwtest'), 'the module is live')
  t.notOk(m.modload.some((l) => l.startsWith('failed ')), 'nothing failed')
  t.notOk(r.lines.some((l) => l.includes('Direct firmware load')), 'no firmware error from the kernel')
})

t.test('the firmware file is missing: the module fails with ENOENT and modload says so', async (t) => {
  const root = await ensureTestRoot(kernel, { name: 'fwtest-nofw' })
  const r = await boot({ kernel, initrd: await image(root), machine: 'virtio', append: APPEND, timeoutMs: 240_000 })
  const m = show(t, r)
  t.notOk(r.timedOut, 'powered off by itself')
  t.notOk(r.panicked, 'no kernel panic')
  t.ok(m.module.includes(`modload_fwtest: firmware ${FW_NAME} failed error=-2`), 'the module reports -ENOENT')
  t.ok(r.lines.some((l) => l.includes(`Direct firmware load for ${FW_NAME} failed with error -2`)), 'so does the kernel')
  t.match(m.modload.find((l) => l.startsWith('failed modload_fwtest: ')) ?? '', /^failed modload_fwtest: ENOENT \(/, 'modload reports the failed load with its errno')
  t.notOk(m.modload.includes('live modload_fwtest'), 'the module is not live')
  t.match(m.modload.find((l) => l.startsWith('coldplug done')) ?? '', /failed=1 /, 'counted as a failure')
})
