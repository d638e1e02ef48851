// The long fuzz run (`npm run fuzz`): every target of targets.ts for its share of TOTAL
// executions (2,000,000 by default, shared by weight), in rounds of fast-check runs from a
// random seed (printed, so a run can be repeated with --seed). A round that fails keeps its
// shrunk input under test/fuzz/regressions/TARGET/ (fuzz.test.ts replays them) and the run
// goes on with the next round; the exit code is 1 when anything failed.
//
// The process's memory is checked after every round: past RSS_LIMIT_MIB the target fails too.
// A parser stuck in a loop never returns to report itself, so a watchdog thread keeps a copy
// of the input being run: when no execution finishes for --stall seconds it writes that input
// as a regression and kills the process.
//
// Usage: node build/run.mjs test/fuzz/run.ts [--total N] [--seed S] [--only a,b] [--round N] [--stall S]
import { parseArgs as parseArgsOf } from 'node:util'
import { Worker } from 'node:worker_threads'
import { TARGETS } from './targets.js'
import { fuzzTarget, regressionDir, regressions, saveRegression } from './harness.js'

interface Args {
  total: number
  seed: number
  only: string[] | null
  round: number
  stall: number
}

const USAGE = '--total N, --seed S, --only a,b, --round N, --stall S'

function parseArgs(argv: string[]): Args {
  const { values } = parseArgsOf({
    args: argv,
    options: { total: { type: 'string' }, seed: { type: 'string' }, only: { type: 'string' }, round: { type: 'string' }, stall: { type: 'string' } },
    strict: true,
  })
  const whole = (name: keyof typeof values, fallback: number): number => {
    const v = values[name]
    if (v === undefined) return fallback
    const n = Number(v)
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} ${v}: give a whole number (${USAGE})`)
    return n
  }
  return {
    total: whole('total', 2_000_000),
    seed: whole('seed', Math.floor(Math.random() * 2 ** 31)),
    only: values.only?.split(',') ?? null,
    round: whole('round', 5000),
    stall: whole('stall', 30),
  }
}

const MAX_KEPT = 1 << 20
/** The process should stay well under this: inputs are a few KB, nothing is kept across them. */
const RSS_LIMIT_MIB = 1024

/** The watchdog: a thread that sees each input before it runs and, when none finishes for
 * `stallS`, saves the one in flight and ends the process. */
function startWatchdog(stallS: number): { before: (target: string, input: Uint8Array) => void; stop: () => void } {
  const shared = new SharedArrayBuffer(8 + 256 + MAX_KEPT)
  const head = new Int32Array(shared, 0, 2) // [executions started, input length]
  const name = new Uint8Array(shared, 8, 256)
  const data = new Uint8Array(shared, 264, MAX_KEPT)
  const code = `
    const { workerData } = require('node:worker_threads')
    const { writeFileSync, mkdirSync, writeSync } = require('node:fs')
    const { createHash } = require('node:crypto')
    const { join } = require('node:path')
    const { shared, stallMs, regressions } = workerData
    const head = new Int32Array(shared, 0, 2)
    const name = new Uint8Array(shared, 8, 256)
    const data = new Uint8Array(shared, 264)
    let last = -1
    let since = Date.now()
    setInterval(() => {
      const n = Atomics.load(head, 0)
      if (n !== last) { last = n; since = Date.now(); return }
      if (n === 0 || Date.now() - since < stallMs) return
      const target = Buffer.from(name).toString('latin1').replace(/\\0.*$/s, '')
      const input = Buffer.from(data.subarray(0, Atomics.load(head, 1)))
      const dir = join(regressions, target)
      mkdirSync(dir, { recursive: true })
      const file = join(dir, createHash('sha256').update(input).digest('hex').slice(0, 16))
      writeFileSync(file + '.bin', input)
      writeFileSync(file + '.txt', new Date().toISOString() + '\\nhang: no execution finished for ' + stallMs / 1000 + ' s (watchdog)\\n')
      writeSync(2, '\\nfuzz: HANG in ' + target + ': input kept as ' + file + '.bin; stopping\\n')
      process.kill(process.pid, 'SIGKILL')
    }, 1000)
  `
  const regressions = regressionDir('x').slice(0, -2)
  const worker = new Worker(code, { eval: true, workerData: { shared, stallMs: stallS * 1000, regressions } })
  worker.unref()
  return {
    before: (target, input) => {
      const n = Math.min(input.length, MAX_KEPT)
      data.set(input.subarray(0, n))
      name.fill(0)
      name.set(Buffer.from(target.slice(0, 255), 'latin1'))
      Atomics.store(head, 1, n)
      Atomics.add(head, 0, 1)
    },
    stop: () => void worker.terminate(),
  }
}

interface Row {
  target: string
  executions: number
  ownErrors: number
  crashes: number
  seconds: number
  rssMiB: number
  memoryFlagged?: boolean
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2))
  const targets = TARGETS.filter((t) => args.only === null || args.only.includes(t.name))
  const weights = targets.reduce((s, t) => s + (t.weight ?? 1), 0)
  const watchdog = startWatchdog(args.stall)
  const started = Date.now()
  const corpus = targets.flatMap((t) => t.corpus())
  const kept = targets.reduce((s, t) => s + regressions(t.name).length, 0)
  console.log(`fuzz: ${targets.length} targets, ${args.total} executions, seed ${args.seed} (repeat with --seed ${args.seed})`)
  console.log(`fuzz: corpus ${corpus.length} inputs (${Math.round(corpus.reduce((s, c) => s + c.length, 0) / 1024)} KiB), ${kept} regression inputs`)
  const rows: Row[] = []
  let seed = args.seed
  for (const t of targets) {
    const budget = Math.ceil((args.total * (t.weight ?? 1)) / weights)
    const row: Row = { target: t.name, executions: 0, ownErrors: 0, crashes: 0, seconds: 0, rssMiB: 0 }
    const t0 = Date.now()
    while (row.executions < budget) {
      const r = await fuzzTarget(t, {
        runs: Math.min(args.round, budget - row.executions),
        seed: seed++,
        slowMs: 5000,
        beforeEach: (input) => watchdog.before(t.name, input),
      })
      row.executions += r.executions
      row.ownErrors += r.ownErrors
      row.rssMiB = Math.max(row.rssMiB, Math.round(process.memoryUsage.rss() / 2 ** 20))
      if (row.rssMiB > RSS_LIMIT_MIB && !row.memoryFlagged) {
        // no single input to keep: growth over a round is many inputs' doing
        row.memoryFlagged = true
        row.crashes++
        console.log(`fuzz: MEMORY in ${t.name}: the process grew to ${row.rssMiB} MiB (limit ${RSS_LIMIT_MIB} MiB) by round seed ${seed - 1}`)
      }
      if (r.failure) {
        row.crashes++
        const kept = saveRegression(t.name, r.failure.input, `long run, fast-check seed ${r.failure.seed}: ${r.failure.error}`)
        console.log(`fuzz: CRASH in ${t.name} (seed ${r.failure.seed}): ${r.failure.error.split('\n')[0]}\n      input kept as ${kept}`)
      }
    }
    row.seconds = Math.round((Date.now() - t0) / 100) / 10
    rows.push(row)
    console.log(`${t.name.padEnd(16)} ${String(row.executions).padStart(9)} executions  ${String(Math.round((100 * row.ownErrors) / row.executions)).padStart(3)}% own errors  ${row.crashes} crashes  ${row.seconds} s  rss ${row.rssMiB} MiB`)
  }
  watchdog.stop()
  const executions = rows.reduce((s, r) => s + r.executions, 0)
  const crashes = rows.reduce((s, r) => s + r.crashes, 0)
  console.log(`fuzz: total ${executions} executions, ${crashes} crashes, ${Math.round((Date.now() - started) / 1000)} s, seed ${args.seed}, ${new Date().toISOString()}`)
  return crashes > 0 ? 1 : 0
}

process.exitCode = await main()
