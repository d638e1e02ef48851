// The fault matrix's fixes, without QEMU (issue 11; the boots are in faults-qemu.test.ts):
// init's tolerant index opening (src/init/index-open.ts), the scheduler's cycles
// (src/init/scheduler.ts), and what the report says about a module file.
import t, { type Test } from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { binIndexesFromTexts } from '../src/depmod/bin-from-text.js'
import { openBootIndex, openTextTolerant } from '../src/init/index-open.js'
import { Scheduler, type Job } from '../src/init/scheduler.js'
import type { LoadResult } from '../src/load/loader.js'
import { describe } from '../src/init/report.js'

const texts = {
  dep: 'kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko kernel/lib/crc16.ko\nkernel/fs/jbd2/jbd2.ko:\nkernel/lib/crc16.ko:\nkernel/drivers/net/virtio_net.ko:\n',
  alias: 'alias fs-ext4 ext4\nalias virtio:d00000001v* virtio_net\n',
  symbols: 'alias symbol:jbd2_journal_start jbd2\n',
  builtin: 'kernel/drivers/virtio/virtio_pci.ko\n',
  builtinModinfo: 'virtio_pci.alias=pci:v00001AF4d*sv*sd*bc*sc*i*\0',
}

/** A module directory with the text indexes and their .bin beside them; `edit` changes files. */
function tree(t: Test, edit: Record<string, (b: Buffer) => Buffer | string> = {}): string {
  const dir = t.testdir({
    'modules.dep': texts.dep,
    'modules.alias': texts.alias,
    'modules.symbols': texts.symbols,
    'modules.builtin': texts.builtin,
    'modules.builtin.modinfo': texts.builtinModinfo,
  })
  for (const f of binIndexesFromTexts(texts, dir)) writeFileSync(join(dir, f.name), f.data)
  for (const [name, fn] of Object.entries(edit)) {
    writeFileSync(join(dir, name), fn(readFileSync(join(dir, name))))
  }
  return dir
}

t.test('intact binary indexes are used as they are', async (t) => {
  const warnings: string[] = []
  const db = openBootIndex(tree(t), (w) => void warnings.push(w))
  t.equal(db.format, 'bin')
  t.same(db.modules.get('ext4')?.deps, ['kernel/fs/jbd2/jbd2.ko', 'kernel/lib/crc16.ko'])
  t.same(db.aliases.lookup('virtio:d00000001v00001AF4'), ['virtio_net'])
  t.same(warnings, [])
})

t.test('a truncated or foreign modules.dep.bin: the text indexes instead, said once', async (t) => {
  for (const [what, cut] of [
    ['truncated', (b: Buffer) => b.subarray(0, Math.floor(b.length / 2))],
    ['zeroed', (b: Buffer) => Buffer.alloc(b.length)],
    ['empty', () => Buffer.alloc(0)],
  ] as const) {
    const warnings: string[] = []
    const dir = tree(t, { 'modules.dep.bin': cut })
    const db = openBootIndex(dir, (w) => void warnings.push(w))
    t.equal(db.format, 'text', `${what}: text`)
    t.same(db.modules.get('ext4')?.deps, ['kernel/fs/jbd2/jbd2.ko', 'kernel/lib/crc16.ko'], `${what}: the text answers`)
    t.same(db.aliases.lookup('fs-ext4'), ['ext4'])
    t.equal(warnings.length, 1, `${what}: one warning`)
    t.match(warnings[0], new RegExp(`^${dir}/modules\\.dep\\.bin:1: .*: using the text indexes instead$`))
  }
})

t.test('corruption found by a later lookup switches then, and the question is answered', async (t) => {
  const warnings: string[] = []
  // the alias index cut after its root: the first lookups pass, a deeper one walks off the end
  const dir = tree(t, { 'modules.alias.bin': (b) => b.subarray(0, b.length - 8) })
  const db = openBootIndex(dir, (w) => void warnings.push(w))
  t.same(db.aliases.lookup('virtio:d00000001v00001AF4'), ['virtio_net'], 'answered, from one index or the other')
  t.same(db.modules.get('jbd2')?.path, 'kernel/fs/jbd2/jbd2.ko')
  t.ok(warnings.length <= 1, 'at most one switch')
})

t.test('a corrupt text line is dropped and named; the rest is read', async (t) => {
  const warnings: string[] = []
  const dir = t.testdir({
    'modules.dep': `${texts.dep}this is not an entry\nkernel/extra/x.ko:\n`,
    'modules.alias': `${texts.alias}garbage here\nalias pci:v1* x\n`,
  })
  const db = openTextTolerant(dir, (w) => void warnings.push(w))
  t.ok(db.modules.has('x'), 'the entry after the bad line')
  t.same(db.aliases.lookup('pci:v1'), ['x'])
  t.match(warnings, [new RegExp(`^${dir}/modules\\.dep:5: .*"this is not an entry": line ignored$`), new RegExp(`^${dir}/modules\\.alias:3: .*line ignored$`)])
  t.throws(() => openTextTolerant(t.testdir({}), () => undefined), { name: 'MissingIndexError' }, 'no modules.dep at all: still an error')
})

function run(jobs: Job[]): { results: LoadResult[]; started: string[]; s: Scheduler } {
  const results: LoadResult[] = []
  const started: string[] = []
  const s = new Scheduler({
    concurrency: 4,
    now: () => 0,
    isLive: () => false,
    load: async (j) => void started.push(j.name),
    onResult: (r) => void results.push(r),
  })
  // as coldplug queues a module's plan: whole, then started
  s.pause()
  for (const j of jobs) s.add(j)
  s.resume()
  return { results, started, s }
}

const job = (name: string, deps: string[] = [], after: string[] = []): Job => ({ name, path: `/m/${name}.ko`, options: '', deps, after })

t.test('a cycle of hard dependencies fails each member, naming the cycle; the rest goes on', async (t) => {
  const { results, started, s } = run([job('b', ['a']), job('c', ['b']), job('a', ['b']), job('d')])
  await new Promise((r) => setImmediate(r))
  t.same(started, ['d'], 'only d starts')
  const byName = Object.fromEntries(results.map((r) => [r.name, r]))
  t.equal(byName.a.status, 'failed')
  t.equal(byName.b.status, 'failed')
  t.match(describe(byName.a), /^failed a: modules\.dep is cyclic: a needs b needs a; none of them can load first/)
  t.match(byName.c, { status: 'skipped', because: 'b' }, 'what needs the cycle is skipped')
  t.ok(s.idle(), 'nothing waits: coldplug can settle')
})

t.test('a softdep that closes a cycle is dropped: both load', async (t) => {
  const { results, started, s } = run([job('net', [], ['rng']), job('rng', [], ['net'])])
  await new Promise((r) => setImmediate(r))
  t.same(started.sort(), ['net', 'rng'])
  t.same(results.map((r) => r.status), ['loaded', 'loaded'])
  t.ok(s.idle())
})

t.test('a self dependency is a cycle too', async (t) => {
  const { results, s } = run([job('x', ['x'])])
  t.match(results, [{ name: 'x', status: 'failed', error: { message: /cyclic: x needs x/ } }])
  t.ok(s.idle())
})
