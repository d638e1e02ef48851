// The coldplug load scheduler: runs module loads with bounded parallelism, each starting as
// soon as what it needs is live. Pure: the load itself is a function it is given (the real one
// calls finit_module on libuv's thread pool), so tests drive it with fake loads they resolve
// by hand.
//
// Rules:
// - a job's hard dependencies (modules.dep) must be loaded or live before it starts; when one
//   fails (or is skipped), the job is skipped with that reason and never tried;
// - soft ordering (softdep pre/post) only waits for the other job to finish, whatever its
//   outcome, as kmod goes on after a failed softdep;
// - at most `concurrency` loads are in flight (the caller may move the limit while it runs:
//   adapt.ts), and at most `cap` while one is set (0 included: nothing starts while the rest
//   of the system needs the CPU); runnable jobs start by priority (lower first),
//   then in the order they were added; a job's dependencies and softdeps inherit its priority,
//   so an urgent module never waits behind its own dependencies' place in the queue;
// - pause()/resume() queue a batch (the first scan's modules) before any of it starts, so
//   the priorities of the whole batch decide what goes first;
// - a load that never returns must not hold up the others: after `slowMs` in flight it gives
//   its slot back (release(), called by the caller's clock) while it stays in flight in its
//   thread; `inFlight()` names it so the caller can report it as hung when it stops waiting;
// - a load whose module the caller sees live before the call returns (markLive) satisfies
//   what waits for it (its slot stays taken until the call returns);
// - a cycle never waits forever: hard dependencies that need each other (a modules.dep no
//   depmod wrote) fail, each naming the cycle; a softdep that would close a cycle is dropped
//   (kmod loads both, in the order it meets them).
import { SysError } from '../sys/syscalls.js'
import type { LoadResult } from '../load/loader.js'

export interface Job {
  name: string
  path: string
  /** parameters given to the module */
  options: string
  /** modules that must be live first; a failed one skips this job */
  deps: readonly string[]
  /** modules to wait for (finished in any state) before starting: softdeps */
  after: readonly string[]
  /** lower starts sooner; default 1 */
  priority?: number
}

export interface SchedulerOptions {
  concurrency: number
  load: (job: Job) => Promise<void>
  now: () => number
  /** modules already in the kernel (live or built in): satisfied without a job */
  isLive: (name: string) => boolean
  onResult?: (r: LoadResult) => void
  /** called after every change of state (a load started or finished) */
  onChange?: () => void
  /** a load in flight this long stops counting against `concurrency` (default: never) */
  slowMs?: number
}

type State =
  | { kind: 'waiting' }
  | { kind: 'running'; since: number; released: boolean; live?: boolean }
  | { kind: 'done'; result: LoadResult }

interface Entry {
  job: Job
  state: State
  priority: number
  seq: number
}

/** Waiting, held or in flight; a load released as slow no longer counts: it may never return,
 * and what waits for it to finish must not wait for ever. */
function unfinished(e: Entry): boolean {
  return e.state.kind === 'waiting' || (e.state.kind === 'running' && !e.state.released)
}

export class Scheduler {
  private readonly entries = new Map<string, Entry>()
  /** waiting jobs in the order they were added */
  private readonly queue: Entry[] = []
  /** the queue is in start order (priority, then seq); false after a push or an urge */
  private sorted = true
  /** since the last full pass of pump(): a job was added or a load failed or was skipped, so
   * a waiting job may now have to be skipped (without it, a pass with every slot taken can
   * start nothing and settle nothing, and is not made) */
  private dirty = false
  /** loads in flight, released or not */
  private readonly inFlightEntries = new Set<Entry>()
  private running = 0
  private readonly results: LoadResult[] = []
  private seq = 0
  /** pause() calls not yet resumed: batches nest (a scan's batch holds each module's plan) */
  private paused = 0
  private limit: number

  constructor(private readonly opts: SchedulerOptions) {
    this.limit = opts.concurrency
  }

  /** Loads allowed in flight now (adapt.ts moves it; it starts at opts.concurrency). */
  get concurrency(): number {
    return this.limit
  }

  set concurrency(n: number) {
    const raised = n > this.limit
    this.limit = Math.max(1, n)
    if (raised) this.pump()
  }

  private capLimit: number | undefined = undefined

  /** At most this many loads in flight while set, 0 included (coldplug beside a boot script
   * that needs the CPU: adapt.ts's slotsBesideBoot); undefined: only `concurrency` bounds them.
   * The loads in flight go on whatever it is. */
  get cap(): number | undefined {
    return this.capLimit
  }

  set cap(n: number | undefined) {
    const before = this.allowed()
    this.capLimit = n === undefined ? undefined : Math.max(0, Math.floor(n))
    if (this.allowed() > before) this.pump()
  }

  /** Loads allowed in flight now: `concurrency`, or `cap` when it is lower. */
  allowed(): number {
    return this.capLimit === undefined ? this.limit : Math.min(this.limit, this.capLimit)
  }

  /** Jobs of this priority or less urgent wait while it is set (coldplug: CPU-feature modules
   * while the root is awaited); undefined: none held. */
  holdFrom: number | undefined = undefined

  /** Nothing in flight, nothing queued but held jobs. */
  idleBelowHold(): boolean {
    return this.inFlightEntries.size === 0 && this.queue.every((e) => this.holdFrom !== undefined && e.priority >= this.holdFrom)
  }

  /** Jobs of this priority or less urgent wait while it is set, whatever holdFrom says
   * (coldplug: while a hook's own list of modules loads, only the root's chain goes). */
  gateFrom: number | undefined = undefined

  /** Set gateFrom (undefined: the gate is open) and start what may start now. */
  gate(from: number | undefined): void {
    this.gateFrom = from
    this.pump()
  }

  /** Let held jobs go. */
  releaseHold(): void {
    this.holdFrom = undefined
    this.pump()
  }

  /** Hold from priority `from` on instead (a higher bound lets the jobs between go). */
  holdOnlyFrom(from: number): void {
    this.holdFrom = from
    this.pump()
  }

  /** A job more urgent than `priority` is unfinished (see unfinished). */
  pendingBelow(priority: number): boolean {
    for (const e of this.inFlightEntries) if (e.priority < priority && unfinished(e)) return true
    return this.queue.some((e) => e.priority < priority)
  }

  /** Loads holding a slot (in flight and not released as slow). */
  slotsUsed(): number {
    return this.running
  }

  /** Queue a job; false when the module is already known or live (a known one waiting still
   * takes the job's priority when that is more urgent). */
  add(job: Job): boolean {
    const priority = job.priority ?? 1
    const known = this.entries.get(job.name)
    if (known !== undefined || this.opts.isLive(job.name)) {
      if (known !== undefined && priority < known.priority) this.urge(job.name, priority)
      return false
    }
    // a softdep on a job that already waits for this one would close a cycle: dropped
    const after = job.after.filter((a) => this.pathTo(a, job.name) === null)
    const e: Entry = { job: after.length === job.after.length ? job : { ...job, after }, state: { kind: 'waiting' }, priority, seq: this.seq++ }
    this.entries.set(job.name, e)
    this.queue.push(e)
    this.sorted = false
    this.dirty = true
    for (const d of job.deps) {
      const cycle = this.pathTo(d, job.name, true)
      if (cycle !== null) this.failCycle([job.name, ...cycle])
    }
    for (const d of [...e.job.deps, ...e.job.after]) this.urge(d, priority)
    this.pump()
    return true
  }

  /** The names from `from` to `to` along the waits of jobs not finished (hard dependencies
   * only with `hard`), `to` included; null when `to` is not reached. */
  private pathTo(from: string, to: string, hard = false, seen = new Set<string>()): string[] | null {
    if (from === to) return [to]
    const e = this.entries.get(from)
    if (e === undefined || e.state.kind === 'done' || seen.has(from)) return null
    seen.add(from)
    for (const d of hard ? e.job.deps : [...e.job.deps, ...e.job.after]) {
      const rest = this.pathTo(d, to, hard, seen)
      if (rest !== null) return [from, ...rest]
    }
    return null
  }

  /** Fail every job of a dependency cycle (`cycle` starts and ends with the same name). */
  private failCycle(cycle: string[]): void {
    const error = new Error(`modules.dep is cyclic: ${cycle.join(' needs ')}; none of them can load first (regenerate the index with depmod)`)
    for (const name of new Set(cycle)) {
      const e = this.entries.get(name)
      if (e === undefined || e.state.kind !== 'waiting') continue
      const i = this.queue.indexOf(e)
      if (i >= 0) this.queue.splice(i, 1)
      this.finish(e, { name, status: 'failed', path: e.job.path, error })
    }
  }

  /** Raise a waiting job (and what it waits for) to `priority`. */
  private urge(name: string, priority: number): void {
    const e = this.entries.get(name)
    if (e === undefined || e.priority <= priority) return
    e.priority = priority
    if (e.state.kind === 'waiting') this.sorted = false
    for (const d of [...e.job.deps, ...e.job.after]) this.urge(d, priority)
  }

  /** Hold every start until resume(): jobs added meanwhile are ordered as one batch. */
  pause(): void {
    this.paused++
  }

  resume(): void {
    if (this.paused > 0) this.paused--
    if (this.paused === 0) this.pump()
  }

  has(name: string): boolean {
    return this.entries.has(name)
  }

  /** Known and unfinished (see unfinished). */
  pending(name: string): boolean {
    const e = this.entries.get(name)
    return e !== undefined && unfinished(e)
  }

  /** Every outcome so far, in the order the loads finished. */
  outcomes(): readonly LoadResult[] {
    return this.results
  }

  /** Loads started and not finished, with when they started and whether markLive saw them live. */
  inFlight(): { name: string; since: number; live: boolean }[] {
    const out: { name: string; since: number; live: boolean }[] = []
    for (const e of this.inFlightEntries) if (e.state.kind === 'running') out.push({ name: e.job.name, since: e.state.since, live: e.state.live === true })
    return out
  }

  /** How many jobs have not started (waiting for what they need, for a slot, or held). */
  queued(): number {
    return this.queue.length
  }

  /** How many of those could start now but for a free slot or a hold. */
  readyToStart(): number {
    let n = 0
    for (const e of this.queue) if (this.readiness(e.job) === 'ok') n++
    return n
  }

  /** Jobs not started, each with what it is still waiting for. */
  waiting(): { name: string; on: string[] }[] {
    return this.queue.map((e) => ({ name: e.job.name, on: [...e.job.deps, ...e.job.after].filter((d) => !this.finished(d)) }))
  }

  /** Nothing in flight and nothing queued: everything added has an outcome. */
  idle(): boolean {
    return this.queue.length === 0 && this.inFlightEntries.size === 0
  }

  /** When the next load in flight will be due for release(), if any. */
  nextReleaseAt(): number | undefined {
    const slow = this.opts.slowMs
    if (slow === undefined) return undefined
    let at: number | undefined
    for (const e of this.inFlightEntries) {
      if (e.state.kind === 'running' && !e.state.released && (at === undefined || e.state.since + slow < at)) at = e.state.since + slow
    }
    return at
  }

  /** Give the slots of loads in flight longer than slowMs to waiting jobs. Returns their names. */
  release(): string[] {
    const slow = this.opts.slowMs
    if (slow === undefined) return []
    const now = this.opts.now()
    const out: string[] = []
    for (const e of this.inFlightEntries) {
      if (e.state.kind === 'running' && !e.state.released && now - e.state.since >= slow) {
        e.state.released = true
        this.running--
        out.push(e.job.name)
      }
    }
    if (out.length) this.pump()
    return out
  }

  /** A load in flight whose module the kernel already shows live: its init has returned, and
   * finit_module still waits in the kernel (do_init_module waits for every async function in
   * the system, a SCSI host's bus scan or a disk's async probe, before it returns). What
   * needs the module may start now, as soon as a slot is free; its own slot stays taken (the
   * caller's limit follows the idle CPU: adapt.ts), it still counts as pending, and its
   * outcome comes when the call returns. Freeing the slot too started more loads beside
   * the probes in flight: on odd-mix (6.1) UHCI and OHCI then ran while am53c974 probed and
   * esp_scsi's interrupt handler oopsed (a kernel panic in CI's capture boot). False when the
   * load is not in flight or was marked already. */
  markLive(name: string): boolean {
    const e = this.entries.get(name)
    if (e === undefined || e.state.kind !== 'running' || e.state.live) return false
    e.state.live = true
    this.pump()
    return true
  }

  private finished(name: string): boolean {
    const e = this.entries.get(name)
    return e === undefined ? true : e.state.kind === 'done' || (e.state.kind === 'running' && e.state.live === true)
  }

  /** 'ok' (start it), 'wait', or the name of a hard dependency that failed. */
  private readiness(job: Job): 'ok' | 'wait' | { failed: string } {
    let wait = false
    for (const d of job.deps) {
      if (this.opts.isLive(d)) continue
      const e = this.entries.get(d)
      // a dependency nobody scheduled will never come: the caller plans every dependency,
      // so this is a module missing from modules.dep
      if (e === undefined) return { failed: d }
      if (e.state.kind === 'running' && e.state.live) continue
      if (e.state.kind !== 'done') wait = true
      else if (e.state.result.status === 'failed' || e.state.result.status === 'skipped') return { failed: d }
    }
    for (const d of job.after) if (!this.finished(d)) wait = true
    return wait ? 'wait' : 'ok'
  }

  private finish(e: Entry, r: LoadResult): void {
    e.state = { kind: 'done', result: r }
    this.inFlightEntries.delete(e)
    if (r.status === 'failed' || r.status === 'skipped') this.dirty = true
    this.results.push(r)
    this.opts.onResult?.(r)
  }

  /** Start whatever can start; settle skips, which may unblock others, until nothing changes.
   * Called after every add, finish and resume: whole passes over the queue (a pass per start,
   * and passes with every slot taken that could do nothing) were a fifth of a CPU profile's
   * samples of coldplug in the guest with ~90 modules, 3-6% of its CPU by instruction count.
   * So a pass looks at every job only
   * when one may have to be skipped (`dirty`); otherwise it stops once the slots are taken,
   * and a start calls for no other pass (a job that starts makes no other job ready; a skip
   * may). */
  private pump(): void {
    if (this.paused > 0) return
    if (!this.sorted) {
      this.queue.sort((a, b) => a.priority - b.priority || a.seq - b.seq)
      this.sorted = true
    }
    const limit = this.allowed()
    let changed = true
    while (changed && (this.dirty || this.running < limit)) {
      changed = false
      const settle = this.dirty
      this.dirty = false
      for (let i = 0; i < this.queue.length; i++) {
        if (!settle && this.running >= limit) break
        const e = this.queue[i]
        const ready = this.readiness(e.job)
        if (ready === 'wait') continue
        if (ready !== 'ok') {
          this.queue.splice(i--, 1)
          const error = new Error(`not loaded: its dependency ${ready.failed} failed`)
          this.finish(e, { name: e.job.name, status: 'skipped', path: e.job.path, error, because: ready.failed })
          changed = true
          continue
        }
        if (this.running >= limit) continue
        if (this.holdFrom !== undefined && e.priority >= this.holdFrom) continue
        if (this.gateFrom !== undefined && e.priority >= this.gateFrom) continue
        this.queue.splice(i--, 1)
        this.start(e)
      }
    }
    this.opts.onChange?.()
  }

  private start(e: Entry): void {
    const since = this.opts.now()
    const state: State = { kind: 'running', since, released: false }
    e.state = state
    this.inFlightEntries.add(e)
    this.running++
    const done = (r: LoadResult): void => {
      if (!state.released) this.running--
      this.finish(e, r)
      // paused (a batch being queued, or coldplug stopping), pump starts nothing and says
      // nothing: the end of a load is a change all the same, and a caller waiting for the
      // loads in flight to end (a hand-over) must hear of it now, not at its next timer
      if (this.paused > 0) this.opts.onChange?.()
      else this.pump()
    }
    let p: Promise<void>
    try {
      p = this.opts.load(e.job)
    } catch (err) {
      p = Promise.reject(err)
    }
    p.then(
      () => done({ name: e.job.name, status: 'loaded', path: e.job.path, ms: this.opts.now() - since }),
      (err: unknown) => {
        const ms = this.opts.now() - since
        // EEXIST: loaded meanwhile (by the kernel's own request_module, or another loader)
        if (err instanceof SysError && err.code === 'EEXIST') done({ name: e.job.name, status: 'live', path: e.job.path, ms })
        else done({ name: e.job.name, status: 'failed', path: e.job.path, ms, error: err instanceof Error ? err : new Error(String(err)) })
      },
    )
  }
}
