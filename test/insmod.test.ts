// insmod through a fake syscall shim: which syscall, which flags, which bytes, which words.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeInsmodTool, modStrerror } from '../src/tools/insmod.js'
import { MODULE_INIT_COMPRESSED_FILE, MODULE_INIT_IGNORE_MODVERSIONS, MODULE_INIT_IGNORE_VERMAGIC } from '../src/sys/syscalls.js'
import { parseElf } from '../src/elf/elf.js'
import { readModinfo } from '../src/elf/modinfo.js'
import { writeFixtureTree } from './fixtures/tools/tree.js'
import { fakeSys } from './fixtures/tools/fake-shim.js'
import { runTool } from './fixtures/tools/io.js'

const root = mkdtempSync(join(tmpdir(), 'modload-insmod-'))
t.teardown(() => rmSync(root, { recursive: true, force: true }))
const dir = writeFixtureTree(root, { withGzip: true })
const plain = `${dir}/kernel/drivers/a/alpha.ko`
const xz = `${dir}/kernel/drivers/c/gamma.ko.xz`
const insmod = (compression: string | null = null) => makeInsmodTool({ kernelCompression: () => compression })

t.test('an uncompressed module goes through finit_module with the parameters', async (t) => {
  const { sys, calls } = fakeSys()
  const r = await runTool(insmod(), [plain, 'debug=1', 'mode=fast'], sys)
  t.same(r, { code: 0, out: '', err: '' })
  t.same(calls, [{ fn: 'finitModule', args: [42, 'debug=1 mode=fast', 0] }])
})

t.test('-f asks the kernel to ignore versions', async (t) => {
  const { sys, calls } = fakeSys()
  await runTool(insmod(), ['-f', plain], sys)
  t.same(calls[0].args[2], MODULE_INIT_IGNORE_MODVERSIONS | MODULE_INIT_IGNORE_VERMAGIC)
})

t.test('compressed: the kernel decompresses when /sys/module/compression matches', async (t) => {
  const { sys, calls } = fakeSys()
  t.equal((await runTool(insmod('xz'), [xz], sys)).code, 0)
  t.same(calls, [{ fn: 'finitModule', args: [42, '', MODULE_INIT_COMPRESSED_FILE] }])
})

t.test('compressed, kernel cannot: decompressed here, init_module', async (t) => {
  for (const [file, kernel] of [[xz, null], [xz, 'zstd'], [`${dir}/kernel/drivers/c/delta.ko.zst`, 'xz'], [`${dir}/kernel/drivers/g/zeta.ko.gz`, null]] as const) {
    const { sys, calls } = fakeSys()
    t.equal((await runTool(insmod(kernel), [file, 'p=1'], sys)).code, 0, file)
    t.equal(calls.length, 1)
    t.equal(calls[0].fn, 'initModule')
    const image = calls[0].args[0] as Uint8Array
    t.same([...image.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], 'ELF bytes')
    t.equal(calls[0].args[1], 'p=1')
  }
  const { sys, calls } = fakeSys()
  await runTool(insmod(null), ['-f', xz], sys)
  const info = readModinfo(parseElf(calls[0].args[0] as Uint8Array, 'gamma'))
  t.notOk(info.some((e) => e.key === 'vermagic'), '-f strips vermagic from the image it passes')
})

t.test('finit_module missing (ENOSYS): init_module, as kmod falls back', async (t) => {
  const { sys, calls } = fakeSys({ finitModule: [-38] })
  t.equal((await runTool(insmod(), [plain], sys)).code, 0)
  t.same(calls.map((c) => c.fn), ['finitModule', 'initModule'])
})

t.test("kernel refusals: kmod's words, a hint, exit 1", async (t) => {
  const cases: [number, string][] = [
    [2, 'Unknown symbol in module'],
    [8, 'Invalid module format'],
    [3, 'Module has wrong symbol version'],
    [22, 'Invalid parameters'],
    [17, 'File exists'],
    [129, 'Key was rejected by service'],
  ]
  for (const [errno, words] of cases) {
    const { sys } = fakeSys({ finitModule: [-errno] })
    const r = await runTool(insmod(), [plain], sys)
    t.equal(r.code, 1)
    t.match(r.err, `insmod: ERROR: could not insert module ${plain}: ${words}\ninsmod: hint: `)
  }
  t.equal(modStrerror(1), 'Operation not permitted')
})

t.test('argument errors', async (t) => {
  t.same(await runTool(insmod(), []), { code: 1, out: '', err: 'insmod: ERROR: missing filename.\n' })
  t.same(await runTool(insmod(), ['-']), { code: 1, out: '', err: 'insmod: ERROR: this tool does not support loading from stdin!\n' })
  t.same(await runTool(insmod(), ['/no/such.ko']), { code: 1, out: '', err: 'insmod: ERROR: could not load module /no/such.ko: No such file or directory\n' })
  t.same(await runTool(insmod(), ['-z', plain]), { code: 1, out: '', err: "insmod: invalid option -- 'z'\n" })
  const { sys, calls } = fakeSys()
  t.equal((await runTool(insmod(), ['-p', '-s', plain], sys)).code, 0, '-p and -s are accepted and ignored')
  t.equal(calls.length, 1)
})

t.test('decompressed here for a loader that loads off the main thread: init_module off it too', async (t) => {
  const { insertModuleFile } = await import('../src/load/insert.js')
  const calls: string[] = []
  let image = undefined as Uint8Array | undefined
  const sys = {
    finitModule: () => void calls.push('finitModule'),
    initModule: () => void calls.push('initModule'),
    finitModuleAsync: async () => void calls.push('finitModuleAsync'),
    initModuleAsync: async (bytes: Uint8Array, params = '') => {
      calls.push(`initModuleAsync ${params}`)
      image = bytes
    },
  }
  await insertModuleFile(sys, xz, 'p=1', false, { kernelCompression: () => null })
  t.same(calls, ['initModuleAsync p=1'], 'a module init that asks init for another module cannot block its event loop')
  t.same([...(image ?? new Uint8Array()).subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], 'ELF bytes')
  calls.length = 0
  await insertModuleFile(sys, xz, '', false, { kernelCompression: () => 'xz' })
  t.same(calls, ['finitModuleAsync'], 'the kernel decompresses: finit_module as before')
})
