// The kernel's module helper registration (/proc/sys/kernel/modprobe), on a stand-in file.
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { KERNEL_DEFAULT_MODPROBE, MODLOAD_MODPROBE, currentModprobeHelper, registerModprobeHelper } from '../src/load/helper.js'

const tmp = mkdtempSync(join(tmpdir(), 'modload-helper-'))
t.teardown(() => rmSync(tmp, { recursive: true, force: true }))

t.test('writes one line naming the helper; reads it back', async (t) => {
  const file = join(tmp, 'modprobe')
  writeFileSync(file, '/sbin/modprobe\n')
  t.equal(currentModprobeHelper(file), '/sbin/modprobe')
  registerModprobeHelper(undefined, file)
  t.equal(readFileSync(file, 'latin1'), `${MODLOAD_MODPROBE}\n`)
  t.equal(MODLOAD_MODPROBE, '/usr/lib/modload/modprobe')
  registerModprobeHelper(KERNEL_DEFAULT_MODPROBE, file)
  t.equal(currentModprobeHelper(file), '/sbin/modprobe', 'the default put back for the real root')
  t.equal(currentModprobeHelper(join(tmp, 'none')), null)
  t.throws(() => registerModprobeHelper('/x', join(tmp, 'no', 'dir')), { code: 'ENOENT' })
})
