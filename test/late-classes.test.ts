// The LATE_CLASSES of src/image/classes.ts are data the host selector trusts to leave whole
// kinds of driver to the root: each pattern must name modules a real tree has (a typo would
// silently keep a class in every image), and nothing a boot needs may fall in one. Checked
// against Debian's 6.1 tree (qemu/kernels.ts, cached).
import t from 'tap'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { ensureKernel } from '../qemu/kernels.js'
import { buildModuleDb } from '../src/core/moddb.js'
import { DRIVER_CLASSES, LATE_CLASSES } from '../src/image/classes.js'
import { classMatches, pathMatches } from '../src/image/select.js'

const kernel = await ensureKernel('6.1')
const dir = path.join(kernel.root, 'lib/modules', kernel.version)
const paths = [...buildModuleDb(dir, { dep: readFileSync(path.join(dir, 'modules.dep'), 'utf8') }).modules.values()].map((m) => m.path)

t.test('every pattern of every late class matches modules of a real tree', async (t) => {
  for (const [name, cls] of Object.entries(LATE_CLASSES)) {
    for (const p of cls.include) {
      const n = paths.filter((f) => pathMatches(p, f)).length
      t.ok(n > 0, `${name}: ${p} matches ${n} modules`)
    }
  }
})

t.test('no module of the boot classes (storage, usb-host, input, fs, nvme, mmc, virt) is late', async (t) => {
  const boot = ['storage', 'usb-host', 'input', 'fs', 'nvme', 'mmc', 'virt'] as const
  const clash = paths.filter((f) => boot.some((b) => classMatches(DRIVER_CLASSES[b], f)) && Object.values(LATE_CLASSES).some((c) => classMatches(c, f)))
  t.same(clash, [], 'no overlap')
})
