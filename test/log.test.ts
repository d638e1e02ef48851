import t, { type Test } from 'tap'
import { openSync, readFileSync, closeSync } from 'node:fs'
import { consoleLoglevel, makeLog, openKmsg } from '../src/init/log.js'

function files(t: Test) {
  const dir = t.testdir({ console: '', kmsg: '' })
  const c = openSync(`${dir}/console`, 'a')
  const k = openSync(`${dir}/kmsg`, 'a')
  t.teardown(() => (closeSync(c), closeSync(k)))
  return { c, k, read: () => ({ console: readFileSync(`${dir}/console`, 'utf8'), kmsg: readFileSync(`${dir}/kmsg`, 'utf8') }) }
}

t.test('console lines keep the marker form; kmsg gets syslog levels', async (t) => {
  const f = files(t)
  const log = makeLog({ console: f.c, kmsg: f.k })
  log('loaded x ms=1.0')
  log('failed y: ENOEXEC', 'error')
  log('no driver for acpi:X', 'detail')
  log('queue z', 'debug')
  t.equal(f.read().console, 'modload: loaded x ms=1.0\nmodload: failed y: ENOEXEC\n')
  t.equal(f.read().kmsg, '<6>modload: loaded x ms=1.0\n<3>modload: failed y: ENOEXEC\n<6>modload: no driver for acpi:X\n')
})

t.test('debug shows detail and debug lines on both', async (t) => {
  const f = files(t)
  const log = makeLog({ console: f.c, kmsg: f.k, debug: true })
  log('no driver for acpi:X', 'detail')
  log('queue z', 'debug')
  t.equal(f.read().console, 'modload: no driver for acpi:X\nmodload: queue z\n')
  t.equal(f.read().kmsg, '<6>modload: no driver for acpi:X\n<7>modload: queue z\n')
})

t.test('lines the kernel echoes on its console are not written twice', async (t) => {
  const f = files(t)
  const log = makeLog({ console: f.c, kmsg: f.k, kernelConsoleLevel: 4 })
  log('failed y', 'error')
  log('loaded x')
  t.equal(f.read().console, 'modload: loaded x\n')
  t.equal(f.read().kmsg, '<3>modload: failed y\n<6>modload: loaded x\n')
})

t.test('kmsgMaxPriority keeps chatter out of the kernel log; no kmsg, no console: no crash', async (t) => {
  const f = files(t)
  makeLog({ console: null, kmsg: f.k, kmsgMaxPriority: 4 })('loaded x')
  makeLog({ console: null, kmsg: f.k, kmsgMaxPriority: 4 })('skipped y', 'warn')
  t.equal(f.read().kmsg, '<4>modload: skipped y\n')
  makeLog({ console: 9999, kmsg: null })('nowhere')
  // under a fresh test directory: a host-wide path such as /nonexistent can exist after all
  const dir = t.testdir({ printk: '4\t4\t1\t7\n' })
  t.equal(openKmsg(`${dir}/missing/kmsg`), null)
  t.equal(consoleLoglevel(`${dir}/missing`), undefined)
  t.equal(consoleLoglevel(`${dir}/printk`), 4)
})

t.test('isKernelConsole: a file is not the console', async (t) => {
  const { isKernelConsole } = await import('../src/init/log.js')
  const f = files(t)
  t.notOk(isKernelConsole(f.c))
  t.notOk(isKernelConsole(9999))
})
