// The fuzzing harness: checks one input against the contract, runs a target under fast-check
// for a number of executions from a seed, and keeps crash inputs as regression files.
//
// Contract (what checkInput enforces): the target's parser returns, or throws one of its own
// error types naming the file (the target's `own`); anything else thrown (TypeError,
// RangeError, a plain Error, a stack overflow) is a violation, so is an execution slower than
// `slowMs` (a hang in the making: a real hang is caught by the long runner's watchdog) and an
// output out of proportion to the input (BoundError, from the target itself).
import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { inputArbitrary } from './mutate.js'
import { REGRESSIONS_DIR, filesIn } from './corpus.js'
import type { FuzzTarget } from './targets.js'

export class ContractViolation extends Error {
  constructor(
    readonly target: string,
    what: string,
  ) {
    super(`${target}: ${what}`)
    this.name = 'ContractViolation'
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}\n${(err.stack ?? '').split('\n').slice(1, 6).join('\n')}`
  return `non-Error thrown: ${String(err)}`
}

export interface CheckOptions {
  /** an execution slower than this is a violation (default 2000 ms) */
  slowMs?: number
}

/** Run one input through a target; throws ContractViolation when the contract is broken. */
export async function checkInput(target: FuzzTarget, input: Uint8Array, opts: CheckOptions = {}): Promise<'returned' | 'own-error'> {
  const slowMs = opts.slowMs ?? 2000
  const start = performance.now()
  let outcome: 'returned' | 'own-error' = 'returned'
  try {
    const r = target.run(input)
    if (r instanceof Promise) {
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ContractViolation(target.name, `no answer after ${slowMs} ms (hang)`)), slowMs)
      })
      try {
        await Promise.race([r, late])
      } finally {
        clearTimeout(timer)
      }
    }
  } catch (err) {
    if (err instanceof ContractViolation) throw err
    if (!target.own?.(err)) throw new ContractViolation(target.name, `threw ${describe(err)}`)
    outcome = 'own-error'
  }
  const ms = performance.now() - start
  if (ms > slowMs) throw new ContractViolation(target.name, `took ${Math.round(ms)} ms on ${input.length} bytes (hang)`)
  return outcome
}

export interface FuzzResult {
  target: string
  /** property executions, shrinking included */
  executions: number
  /** of which the parser threw its own error (the rest returned a value) */
  ownErrors: number
  /** the failing input after shrinking, and why it failed */
  failure?: { input: Uint8Array; error: string; seed: number }
}

export interface FuzzOptions extends CheckOptions {
  runs: number
  seed: number
  /** called with each input before it runs (the long runner's watchdog keeps it) */
  beforeEach?: (input: Uint8Array) => void
}

/** fast-check over one target: `runs` generated inputs from `seed`; stops at the first failure
 * and shrinks it. */
export async function fuzzTarget(target: FuzzTarget, opts: FuzzOptions): Promise<FuzzResult> {
  let executions = 0
  let ownErrors = 0
  const arb = inputArbitrary(target.corpus(), { text: target.text, offsets: target.offsets })
  const prop = fc.asyncProperty(arb, async (input) => {
    executions++
    // let the event loop turn now and then, as it does between a tool's file reads: Node's
    // sync zlib releases a failed stream's memory in a close callback on the loop, and the
    // memory the run reports should be the parsers', not callbacks left waiting
    if (executions % 256 === 0) await new Promise((resolve) => setImmediate(resolve))
    opts.beforeEach?.(input)
    if ((await checkInput(target, input, opts)) === 'own-error') ownErrors++
  })
  const r = await fc.check(prop, { numRuns: opts.runs, seed: opts.seed, verbose: 0 })
  const out: FuzzResult = { target: target.name, executions, ownErrors }
  if (r.failed && r.counterexample) {
    const err = r.errorInstance
    out.failure = { input: r.counterexample[0], error: err instanceof Error ? err.message : String(err), seed: opts.seed }
  } else if (r.failed) {
    out.failure = { input: new Uint8Array(0), error: `fast-check failed without a counterexample: ${String(r.errorInstance)}`, seed: opts.seed }
  }
  return out
}

/** Where a target's regression inputs live. */
export function regressionDir(target: string): string {
  return join(REGRESSIONS_DIR, target)
}

/** Keep a crash input (named by its hash, so the same crash is kept once) and why it failed. */
export function saveRegression(target: string, input: Uint8Array, error: string): string {
  const dir = regressionDir(target)
  mkdirSync(dir, { recursive: true })
  const name = createHash('sha256').update(input).digest('hex').slice(0, 16)
  const path = join(dir, `${name}.bin`)
  writeFileSync(path, input)
  writeFileSync(join(dir, `${name}.txt`), `${new Date().toISOString()}\n${error}\n`)
  return path
}

/** Every kept regression input of a target. */
export function regressions(target: string): { name: string; data: Uint8Array }[] {
  return filesIn(regressionDir(target)).filter((f) => f.name.endsWith('.bin'))
}
