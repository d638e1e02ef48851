// The out-of-tree test modules (test/modules/*, built by qemu/test-modules.ts with Debian's
// headers for the 6.1 test kernel): each is a valid x86-64 module with the kernel's own
// vermagic and the modinfo its fault needs; the kernel root made from them has them in
// modules.dep next to the kernel's own modules (hard links) and the firmware asked for.
import t from 'tap'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { ensureKernel } from '../qemu/kernels.js'
import { ensureTestModules, ensureTestRoot, testModulesSrc } from '../qemu/test-modules.js'
import { parseElf } from '../src/elf/elf.js'
import { infoValues } from '../src/elf/modinfo.js'
import { moduleInfo } from '../src/elf/module.js'
import { neededSymbols } from '../src/elf/symbols.js'

const kernel = await ensureKernel('6.1')
const built = await ensureTestModules(kernel)

/** The vermagic of the kernel's own modules (the first one in modules.dep). */
function kernelVermagic(): string {
  const first = readFileSync(path.join(kernel.modulesDir, 'modules.dep'), 'utf8').split(':')[0]
  const file = path.join(kernel.modulesDir, first)
  return infoValues(moduleInfo(readFileSync(file), file), 'vermagic')[0]
}

t.test('every test/modules/* is built, for this kernel', async (t) => {
  const dirs = readdirSync(testModulesSrc).sort()
  t.same(Object.keys(built.modules).sort(), dirs, 'one module per directory')
  t.ok(dirs.length >= 7, `${dirs.length} modules`)
  const vermagic = kernelVermagic()
  t.match(vermagic, new RegExp(`^${kernel.version.replaceAll('.', '\\.')} SMP`), `the kernel's vermagic: ${vermagic}`)
  for (const [name, ko] of Object.entries(built.modules)) {
    const bytes = readFileSync(ko)
    const elf = parseElf(bytes, ko)
    t.equal(elf.machine, 62, `${name}: x86-64 ELF`)
    const info = moduleInfo(bytes, ko)
    t.same(infoValues(info, 'vermagic'), [vermagic], `${name}: vermagic is the kernel's`)
    t.same(infoValues(info, 'name'), [name], `${name}: name`)
    t.same(infoValues(info, 'license'), ['GPL'], `${name}: license GPL`)
    t.notOk(info.some((e) => e.key === 'signature'), `${name}: unsigned`)
  }
})

t.test('the modinfo each fault needs', async (t) => {
  const info = (name: string) => {
    const ko = built.modules[name]
    return moduleInfo(readFileSync(ko), ko)
  }
  t.same(infoValues(info('modload_fwtest'), 'firmware'), ['modload-test/fw.bin'], 'fwtest declares its firmware')
  t.same(infoValues(info('modload_sleep'), 'parmtype'), ['ms:uint'], 'sleep: ms is a uint parameter')
  t.same(infoValues(info('modload_badparam'), 'parmtype'), ['count:int'], 'badparam: count is an int parameter')
  const ko = built.modules.modload_unknown_symbol
  const needed = neededSymbols(parseElf(readFileSync(ko), ko)).map((s) => s.name)
  t.ok(needed.includes('modload_no_such_symbol'), 'unknown_symbol needs a symbol nobody exports')
  for (const name of ['modload_fail', 'modload_hang', 'modload_oops']) t.same(infoValues(info(name), 'parm'), [], `${name}: no parameters`)
})

t.test('cached: a second call builds nothing', async (t) => {
  const before = statSync(built.modules.modload_fail).mtimeMs
  const again = await ensureTestModules(kernel)
  t.same(again, built)
  t.equal(statSync(again.modules.modload_fail).mtimeMs, before, 'same file, not rebuilt')
})

t.test('a kernel root with the test modules and firmware', async (t) => {
  const fw = Buffer.from('test-modules firmware\n')
  const r = await ensureTestRoot(kernel, { name: 'test-modules-test', firmware: { 'modload-test/fw.bin': fw } })
  t.equal(r.kver, kernel.version)
  t.ok(readFileSync(path.join(r.firmwareDir, 'modload-test/fw.bin')).equals(fw), 'lib/firmware holds the file')
  const dep = readFileSync(path.join(r.modulesDir, 'modules.dep'), 'utf8').split('\n')
  for (const name of Object.keys(built.modules)) {
    t.ok(dep.includes(`extra/${name}.ko:`), `modules.dep lists extra/${name}.ko`)
    t.ok(readFileSync(r.modules[name]).equals(readFileSync(built.modules[name])), `${name} is in extra/`)
  }
  t.ok(dep.length > 4000, "and the kernel's own modules")
  const first = dep[0].split(':')[0]
  t.equal(statSync(path.join(r.modulesDir, first)).ino, statSync(path.join(kernel.modulesDir, first)).ino, 'kernel modules are hard links')
  t.notOk(readFileSync(path.join(kernel.modulesDir, 'modules.dep'), 'utf8').includes('extra/modload_'), "the kernel's own cache is untouched")
  t.ok(statSync(path.join(r.root, 'boot', `config-${kernel.version}`)).isFile(), 'boot/config for firmware decompression')
  t.same(await ensureTestRoot(kernel, { name: 'test-modules-test', firmware: { 'modload-test/fw.bin': fw } }), r, 'cached')
  const other = await ensureTestRoot(kernel, { name: 'test-modules-test', firmware: {} })
  t.not(other.root, r.root, 'other firmware, other root')
  t.notOk(statSync(r.root, { throwIfNoEntry: false }), 'the old root with that label is gone')
})
