// The coldplug scheduler against fake loads that the test resolves by hand: dependency
// ordering, bounded parallelism, a load that never returns, a failing dependency.
import t from 'tap'
import { Scheduler, type Job } from '../src/init/scheduler.js'
import { SysError } from '../src/sys/syscalls.js'
import type { LoadResult } from '../src/load/loader.js'

function job(name: string, deps: string[] = [], after: string[] = []): Job {
  return { name, path: `/m/${name}.ko`, options: '', deps, after }
}

/** Loads that stay pending until the test settles them; records the order they started in. */
function harness(concurrency: number, live: string[] = [], slowMs?: number) {
  let clock = 0
  const started: string[] = []
  const pending = new Map<string, { resolve: () => void; reject: (e: Error) => void }>()
  const results: LoadResult[] = []
  const s = new Scheduler({
    concurrency,
    slowMs,
    now: () => clock,
    isLive: (n) => live.includes(n),
    onResult: (r) => results.push(r),
    load: (j) =>
      new Promise<void>((resolve, reject) => {
        started.push(j.name)
        pending.set(j.name, { resolve, reject })
      }),
  })
  const flush = () => new Promise((r) => setImmediate(r))
  const ok = async (n: string) => {
    pending.get(n)!.resolve()
    await flush()
  }
  const fail = async (n: string, errno = 8) => {
    pending.get(n)!.reject(new SysError('finit_module', errno, `/m/${n}.ko`))
    await flush()
  }
  return { s, started, results, ok, fail, advance: (ms: number) => (clock += ms) }
}

t.test('a module starts only when its dependencies are live', async (t) => {
  const h = harness(8)
  h.s.add(job('virtio'))
  h.s.add(job('virtio_ring'))
  h.s.add(job('virtio_pci', ['virtio_ring', 'virtio']))
  t.same(h.started, ['virtio', 'virtio_ring'], 'independent modules start together')
  await h.ok('virtio')
  t.same(h.started, ['virtio', 'virtio_ring'], 'one dependency is not enough')
  await h.ok('virtio_ring')
  t.same(h.started, ['virtio', 'virtio_ring', 'virtio_pci'])
  await h.ok('virtio_pci')
  t.ok(h.s.idle())
  t.same(h.results.map((r) => [r.name, r.status]), [['virtio', 'loaded'], ['virtio_ring', 'loaded'], ['virtio_pci', 'loaded']])
})

t.test('modules already live are not scheduled and satisfy dependencies', async (t) => {
  const h = harness(2, ['virtio'])
  t.notOk(h.s.add(job('virtio')))
  h.s.add(job('virtio_blk', ['virtio']))
  t.same(h.started, ['virtio_blk'])
  t.notOk(h.s.add(job('virtio_blk')), 'a module is scheduled once')
})

t.test('at most `concurrency` loads are in flight, in the order they were added', async (t) => {
  const h = harness(2)
  for (const n of ['a', 'b', 'c', 'd']) h.s.add(job(n))
  t.same(h.started, ['a', 'b'])
  t.same(h.s.inFlight().map((f) => f.name), ['a', 'b'])
  await h.ok('b')
  t.same(h.started, ['a', 'b', 'c'])
  await h.ok('a')
  await h.ok('c')
  await h.ok('d')
  t.ok(h.s.idle())
})

t.test('cap: fewer loads in flight than concurrency while set, none at 0; raising it starts what waits', async (t) => {
  const h = harness(3)
  h.s.cap = 0
  t.equal(h.s.allowed(), 0)
  for (const n of ['a', 'b', 'c', 'd']) h.s.add(job(n))
  t.same(h.started, [], 'cap 0: nothing starts')
  h.s.add(job('e', ['missing']))
  t.same(h.results.map((r) => r.name), ['e'], 'a job that cannot load is still settled at cap 0')
  h.s.cap = 1
  t.same(h.started, ['a'], 'raised to 1: one starts at once')
  h.s.cap = 0
  await h.ok('a')
  t.same(h.started, ['a'], 'the one in flight ended; back at 0 nothing new starts')
  h.s.cap = 9
  t.equal(h.s.allowed(), 3, 'never past concurrency')
  t.same(h.started, ['a', 'b', 'c', 'd'])
  h.s.cap = undefined
  t.equal(h.s.allowed(), 3)
  for (const n of ['b', 'c', 'd']) await h.ok(n)
  t.ok(h.s.idle())
})

t.test('a load that never returns holds its slot, not the others', async (t) => {
  const h = harness(2)
  h.s.add(job('hangs'))
  h.s.add(job('needs_hang', ['hangs']))
  for (const n of ['x', 'y', 'z']) h.s.add(job(n))
  t.same(h.started, ['hangs', 'x'])
  await h.ok('x')
  await h.ok('y')
  await h.ok('z')
  t.same(h.started, ['hangs', 'x', 'y', 'z'])
  t.notOk(h.s.idle())
  t.same(h.s.inFlight().map((f) => f.name), ['hangs'], 'reported as in flight')
  t.same(h.s.waiting(), [{ name: 'needs_hang', on: ['hangs'] }], 'its dependent waits, saying on what')
})

t.test('a failed dependency skips its dependents, transitively; others still load', async (t) => {
  const h = harness(4)
  h.s.add(job('broken'))
  h.s.add(job('mid', ['broken']))
  h.s.add(job('top', ['mid', 'broken']))
  h.s.add(job('fine'))
  await h.fail('broken')
  await h.ok('fine')
  t.same(h.started, ['broken', 'fine'])
  t.same(h.results.map((r) => [r.name, r.status, r.because ?? '']), [
    ['broken', 'failed', ''],
    ['mid', 'skipped', 'broken'],
    ['top', 'skipped', 'mid'],
    ['fine', 'loaded', ''],
  ])
  t.equal((h.results[0].error as SysError).code, 'ENOEXEC')
  t.ok(h.s.idle())
})

t.test('a dependency nobody scheduled is a failure, not a wait', async (t) => {
  const h = harness(1)
  h.s.add(job('orphan', ['missing']))
  t.same(h.results.map((r) => [r.name, r.status, r.because]), [['orphan', 'skipped', 'missing']])
})

t.test('EEXIST means loaded meanwhile; dependents go on', async (t) => {
  const h = harness(2)
  h.s.add(job('a'))
  h.s.add(job('b', ['a']))
  await h.fail('a', 17)
  t.equal(h.results[0].status, 'live')
  t.same(h.started, ['a', 'b'])
})

t.test('soft ordering waits for the other module whatever its outcome', async (t) => {
  const h = harness(4)
  h.s.add(job('pre'))
  h.s.add(job('main', [], ['pre']))
  t.same(h.started, ['pre'])
  await h.fail('pre')
  t.same(h.started, ['pre', 'main'], 'a failed softdep does not stop the module')
})

t.test('a load function that throws synchronously is a failure', async (t) => {
  const s = new Scheduler({
    concurrency: 1,
    now: () => 0,
    isLive: () => false,
    load: () => {
      throw new Error('boom')
    },
  })
  s.add(job('a'))
  await new Promise((r) => setImmediate(r))
  t.same(s.outcomes().map((r) => [r.name, r.status, r.error?.message]), [['a', 'failed', 'boom']])
})

t.test('a slow load gives its slot back after slowMs and stays in flight', async (t) => {
  const h = harness(1, [], 5000)
  h.s.add(job('hangs'))
  h.s.add(job('next'))
  t.same(h.started, ['hangs'])
  h.advance(4999)
  t.same(h.s.release(), [])
  h.advance(1)
  t.same(h.s.release(), ['hangs'])
  t.same(h.started, ['hangs', 'next'], 'the next module starts')
  t.same(h.s.release(), [], 'released once')
  await h.ok('next')
  t.notOk(h.s.idle(), 'not idle while the slow one is in flight')
  t.same(h.s.inFlight(), [{ name: 'hangs', since: 0, live: false }])
  await h.ok('hangs')
  t.ok(h.s.idle())
  h.s.add(job('a'))
  h.s.add(job('b'))
  t.same(h.started.slice(2), ['a'], 'the slot count is right after a released load ends')
})

t.test('priority: a paused batch starts most urgent first; dependencies inherit urgency', async (t) => {
  const h = harness(1)
  const p = (j: Job, priority: number): Job => ({ ...j, priority })
  h.s.pause()
  h.s.add(p(job('sha256_ssse3'), 2))
  h.s.add(p(job('kvm'), 2))
  h.s.add(p(job('button'), 1))
  h.s.add(p(job('usb_common'), 1)) // queued by a later-priority device first...
  h.s.add(p(job('usbcore', ['usb_common']), 0)) // ...then needed by an urgent one: raised
  h.s.add(p(job('xhci_pci', ['usbcore', 'usb_common']), 0))
  t.same(h.started, [], 'nothing starts while paused')
  t.notOk(h.s.idle(), 'a paused queue is not idle')
  h.s.resume()
  t.same(h.started, ['usb_common'])
  for (const n of ['usb_common', 'usbcore', 'xhci_pci', 'button', 'sha256_ssse3']) await h.ok(n)
  t.same(h.started, ['usb_common', 'usbcore', 'xhci_pci', 'button', 'sha256_ssse3', 'kvm'], 'urgent chain, then by priority, then in the order added')
  await h.ok('kvm')
  t.ok(h.s.idle())
})

t.test('priority: adding a known waiting module again raises it', async (t) => {
  const h = harness(1)
  h.s.add(job('first'))
  h.s.add({ ...job('late'), priority: 2 })
  h.s.add({ ...job('middle'), priority: 1 })
  t.notOk(h.s.add({ ...job('late'), priority: 0 }), 'not added twice')
  await h.ok('first')
  t.same(h.started, ['first', 'late'])
})

t.test('the work per load stays flat as the queue grows (no pass over the whole queue per start)', async (t) => {
  // the scheduler's own passes were a fifth of a CPU profile of coldplug in the guest with ~90
  // modules: count the dependency checks (isLive calls) for 300 loads, 4 in flight
  const n = 300
  let checks = 0
  const pending: (() => void)[] = []
  const s = new Scheduler({
    concurrency: 4,
    now: () => 0,
    isLive: () => {
      checks++
      return false
    },
    load: () => new Promise<void>((resolve) => pending.push(resolve)),
  })
  s.pause()
  for (let i = 0; i < n; i++) s.add(job(`m${i}`, i % 3 === 0 && i > 0 ? [`m${i - 1}`] : []))
  s.resume()
  while (pending.length) {
    pending.shift()!()
    await new Promise((r) => setImmediate(r))
  }
  t.ok(s.idle(), 'every load ran')
  t.equal(s.outcomes().filter((r) => r.status === 'loaded').length, n)
  t.ok(checks < 20 * n, `${checks} dependency checks for ${n} loads (a pass over the whole queue per start took ~30,000)`)
})

t.test('a failure still skips every job behind it while all slots are taken', async (t) => {
  const h = harness(1)
  h.s.add(job('a'))
  h.s.add(job('b', ['a']))
  h.s.add(job('c', ['b']))
  h.s.add(job('d'))
  t.same(h.started, ['a'])
  await h.fail('a')
  t.same(h.results.map((r) => [r.name, r.status]), [['a', 'failed'], ['b', 'skipped'], ['c', 'skipped']])
  t.same(h.started, ['a', 'd'])
})

t.test('a hold bound that moves up lets the jobs between go; pendingBelow ignores a load released as slow', async (t) => {
  const h = harness(4, [], 1000)
  h.s.holdFrom = 0
  h.s.add({ ...job('chain'), priority: -1 })
  h.s.add({ ...job('storage'), priority: 0 })
  h.s.add({ ...job('network'), priority: 1 })
  t.same(h.started, ['chain'], 'only the chain starts')
  t.ok(h.s.pendingBelow(0), 'the chain is in flight')
  t.notOk(h.s.pendingBelow(-1))
  h.s.holdOnlyFrom(1)
  t.same(h.started, ['chain', 'storage'], 'the storage job goes, the network job stays held')
  h.advance(1500)
  t.same(h.s.release(), ['chain', 'storage'], 'both slow')
  t.notOk(h.s.pendingBelow(0), 'a load released as slow (it may never return) does not count')
  h.s.releaseHold()
  t.same(h.started, ['chain', 'storage', 'network'])
})

t.test('a load that ends while the scheduler is paused is still a change (onChange)', async (t) => {
  const pending = new Map<string, () => void>()
  let changes = 0
  const s = new Scheduler({
    concurrency: 2,
    now: () => 0,
    isLive: () => false,
    onChange: () => changes++,
    load: (j) => new Promise<void>((resolve) => pending.set(j.name, resolve)),
  })
  s.add(job('ext4'))
  s.add(job('floppy'))
  s.pause()
  const before = changes
  pending.get('ext4')!()
  await new Promise((r) => setImmediate(r))
  t.equal(changes, before + 1, 'told at once: a caller stopping for the loads in flight wakes up')
  t.same(s.inFlight().map((f) => f.name), ['floppy'])
})

t.test('a load seen live before its call returns (markLive): what needs it starts once a slot is free', async (t) => {
  const h = harness(2)
  h.s.add(job('libata'))
  h.s.add(job('sym53c8xx'))
  h.s.add(job('ata_piix', ['libata']))
  h.s.add(job('floppy'))
  t.ok(h.s.markLive('libata'))
  t.notOk(h.s.markLive('libata'), 'once')
  t.notOk(h.s.markLive('floppy'), 'not in flight: nothing to mark')
  t.same(h.started, ['libata', 'sym53c8xx'], 'both slots still taken: nothing more starts beside the probes in flight')
  t.ok(h.s.pending('libata'), 'still pending until its call returns')
  t.same(h.s.inFlight().map((f) => [f.name, f.live]), [['libata', true], ['sym53c8xx', false]])
  await h.ok('sym53c8xx')
  t.same(h.started, ['libata', 'sym53c8xx', 'ata_piix'], "libata's dependent takes the free slot before libata's call returns")
  await h.ok('libata')
  t.same(h.results.map((r) => [r.name, r.status]), [['sym53c8xx', 'loaded'], ['libata', 'loaded']], 'its outcome when the call returns')
  t.same(h.started, ['libata', 'sym53c8xx', 'ata_piix', 'floppy'])
})
