// modload.cpuprofile (src/init/cpu-profile.ts) and its reader (bench/cpu-profile.ts): a real
// V8 profile taken in this process goes through the console lines and back whole, and its
// self time lands on the function that burnt it, in the source file the bundle names.
import t from 'tap'
import { PROFILE_PREFIX, profileFromLines, profileInterval, startCpuProfile } from '../src/init/cpu-profile.js'
import { bundleFiles, summarise, type CpuProfile } from '../bench/cpu-profile.js'

function busyHashing(ms: number): number {
  const end = Date.now() + ms
  let h = 0
  while (Date.now() < end) for (let i = 0; i < 10_000; i++) h = (h * 31 + i) | 0
  return h
}

t.test('a profile taken here comes back from its console lines and names the busy function', async (t) => {
  const profiler = await startCpuProfile(200)
  busyHashing(150)
  const lines: string[] = []
  await profiler.stop((l) => lines.push(`[   12.345678] ${l}`))
  t.ok(lines.length >= 2, 'chunks and an end line')
  t.ok(lines.every((l) => l.includes(PROFILE_PREFIX)), 'every line carries the prefix')
  t.ok(lines.slice(0, -1).every((l) => l.length < 3100), 'lines short enough for a console')
  const profile = profileFromLines(['unrelated', ...lines, 'after']) as CpuProfile
  t.ok(profile && Array.isArray(profile.nodes) && profile.samples.length > 0, 'the profile is whole')
  const s = summarise(profile, () => 'test/cpu-profile.test.ts')
  const top = s.functions.find((r) => r.name.startsWith('busyHashing'))
  t.ok(top, 'busyHashing has self time')
  // V8's own entries ((program), (garbage collector), ...) aside, the profile was taken while
  // busyHashing ran: it holds most of the JavaScript's self time (a share, not a duration)
  const js = s.functions.filter((r) => !r.name.startsWith('('))
  const jsMs = js.reduce((a, r) => a + r.ms, 0)
  t.ok(top!.ms > jsMs / 2, `most of the JavaScript's self time is charged to it (${top?.ms.toFixed(0)} of ${jsMs.toFixed(0)} ms)`)
  t.equal(s.functions[0].name.startsWith('busyHashing') || s.functions[0].name.startsWith('(program)'), true, 'it leads (or only V8 itself does)')
  t.ok(Math.abs(s.functions.reduce((a, r) => a + r.ms, 0) - s.totalMs) < 0.01, 'functions sum to the total')
})

t.test('a cut-short profile is no profile', async (t) => {
  const profiler = await startCpuProfile()
  busyHashing(5)
  const lines: string[] = []
  await profiler.stop((l) => lines.push(l))
  t.equal(profileFromLines(lines.slice(1)), undefined, 'a chunk missing: the length does not match')
  t.equal(profileFromLines(lines.slice(0, -1)), undefined, 'no end line')
  t.equal(profileFromLines([]), undefined)
})

t.test('the interval from the command line', async (t) => {
  t.equal(profileInterval(true), 1000)
  t.equal(profileInterval(undefined), 1000)
  t.equal(profileInterval('250'), 250)
  t.equal(profileInterval('10'), 1000, 'below 50 µs: the default')
  t.equal(profileInterval('fast'), 1000)
})

t.test("a readable bundle's lines map to its source files", async (t) => {
  const bundle = ['"use strict";', '// src/a.ts', 'function a() {}', '', '// node_modules/x/index.js', 'var x = 1;', '// src/init/b.ts', 'function b() {}'].join('\n')
  const fileOf = bundleFiles(bundle)
  t.equal(fileOf(0), '(bundle)')
  t.equal(fileOf(2), 'src/a.ts')
  t.equal(fileOf(5), 'node_modules/x/index.js')
  t.equal(fileOf(7), 'src/init/b.ts')
  t.equal(fileOf(100), 'src/init/b.ts')
})

t.test('self time: each sample is charged the gap to the next', async (t) => {
  const frame = (functionName: string, lineNumber: number, url = 'file:///init') => ({ functionName, url, lineNumber, columnNumber: 0 })
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', -1, ''), children: [2, 3] },
      { id: 2, callFrame: frame('lookup', 2) },
      { id: 3, callFrame: frame('(idle)', -1, '') },
    ],
    samples: [2, 2, 3, 2],
    timeDeltas: [0, 1000, 3000, 500],
    startTime: 0,
    endTime: 4500,
  }
  const s = summarise(profile, (line) => (line < 5 ? 'src/core/lookup.ts' : '?'))
  // sample 0 (lookup) gets the 1 ms to sample 1, sample 1 (lookup) the 3 ms to sample 2, the
  // idle sample 0.5 ms, the last sample nothing
  t.same(s.functions.map((r) => [r.name, r.ms]), [['lookup src/core/lookup.ts', 4], ['(idle)', 0.5]])
  t.same(s.files.map((r) => [r.name, r.ms]), [['src/core/lookup.ts', 4], ['(idle)', 0.5]])
  t.equal(s.totalMs, 4.5)
})
