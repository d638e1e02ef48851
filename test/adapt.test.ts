import t from 'tap'
import { idleShare, nextConcurrency, parseProcStat, slotsBesideBoot } from '../src/init/adapt.js'

t.test('/proc/stat', async (t) => {
  const text = 'cpu  100 5 50 800 40 3 2 1 0 0\ncpu0 50 2 25 400 20 1 1 0 0 0\nintr 1 2 3\n'
  t.same(parseProcStat(text), { busy: 100 + 5 + 50 + 3 + 2 + 1, idle: 840, cpus: 1 })
  t.equal(parseProcStat('cpu  1 0 1 8\ncpu0 1 0 0 4\ncpu1 0 0 1 4\ncpufreq 9\n')?.cpus, 2, 'the cpuN lines counted')
  t.same(parseProcStat('cpu  1 2 3 4\n'), { busy: 6, idle: 4 }, 'old kernels: four fields')
  t.equal(parseProcStat('intr 1\n'), null)
  t.equal(parseProcStat('cpu  a b c d\n'), null)
  t.equal(idleShare({ busy: 100, idle: 100 }, { busy: 125, idle: 175 }), 0.75)
  t.equal(idleShare({ busy: 1, idle: 1 }, { busy: 1, idle: 1 }), null, 'no time passed')
})

t.test('one more slot while loads wait and the CPU idles; back to the base when it is busy', async (t) => {
  const base = { current: 4, base: 4, max: 16, waiting: 3, running: 4 }
  t.equal(nextConcurrency({ ...base, idle: 0.9 }), 5, 'sleeping loads hold every slot: one more')
  t.equal(nextConcurrency({ ...base, idle: 0.3 }), 4, 'in between: as it is')
  t.equal(nextConcurrency({ ...base, waiting: 0, idle: 0.9 }), 4, 'nothing waits: no need')
  t.equal(nextConcurrency({ ...base, running: 2, idle: 0.9 }), 4, 'free slots already')
  t.equal(nextConcurrency({ ...base, current: 16, running: 16, idle: 0.9 }), 16, 'never past the thread pool')
  t.equal(nextConcurrency({ ...base, current: 7, running: 7, idle: 0.1 }), 6, 'busy CPU: one fewer')
  t.equal(nextConcurrency({ ...base, idle: 0.05 }), 4, 'never below the base')
})

t.test('beside a boot: loads only on the CPUs the rest of the system leaves idle', async (t) => {
  // one CPU, 100 jiffies (1 s) between the looks
  t.equal(slotsBesideBoot({ cpus: 1, busy: 90, idle: 10, ownMs: 0 }), 0, 'the boot script took 90%: none')
  t.equal(slotsBesideBoot({ cpus: 1, busy: 90, idle: 10, ownMs: 850 }), 1, 'the busy time was our own load: one')
  t.equal(slotsBesideBoot({ cpus: 1, busy: 5, idle: 95, ownMs: 0 }), 1, 'idle: one, never more per CPU')
  t.equal(slotsBesideBoot({ cpus: 1, busy: 40, idle: 60, ownMs: 0 }), 1, 'more than half left: one')
  t.equal(slotsBesideBoot({ cpus: 1, busy: 60, idle: 40, ownMs: 0 }), 0, 'less than half: none')
  // two CPUs, 200 jiffies (1 s of each)
  t.equal(slotsBesideBoot({ cpus: 2, busy: 100, idle: 100, ownMs: 0 }), 1, 'one CPU busy with the boot: one load')
  t.equal(slotsBesideBoot({ cpus: 2, busy: 200, idle: 0, ownMs: 1000 }), 1, 'one of the two is ours, the other the boot\'s: one')
  t.equal(slotsBesideBoot({ cpus: 2, busy: 10, idle: 190, ownMs: 0 }), 2)
  t.equal(slotsBesideBoot({ cpus: 4, busy: 200, idle: 200, ownMs: 0 }), 2, 'four CPUs, two busy with the boot: two')
  t.equal(slotsBesideBoot({ cpus: 2, busy: 10, idle: 190, ownMs: 5000 }), 2, 'own time past the wall time (a clock skew): still one per CPU')
  t.equal(slotsBesideBoot({ cpus: 2, busy: 0, idle: 0, ownMs: 0 }), null, 'no time passed')
  t.equal(slotsBesideBoot({ cpus: 0, busy: 10, idle: 10, ownMs: 0 }), null, 'no CPU count')
})
