import t from 'tap'
import { idleShare, nextConcurrency, parseProcStat } from '../src/init/adapt.js'

t.test('/proc/stat', async (t) => {
  const text = 'cpu  100 5 50 800 40 3 2 1 0 0\ncpu0 50 2 25 400 20 1 1 0 0 0\nintr 1 2 3\n'
  t.same(parseProcStat(text), { busy: 100 + 5 + 50 + 3 + 2 + 1, idle: 840 })
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
