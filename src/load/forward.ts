// The kernel's module requests, served by the running init. While init runs, the kernel's
// helper (/proc/sys/kernel/modprobe) is modprobe-forward (src/sys/modprobe-forward.c), a tiny
// static program that passes its arguments (`-q -- NAME`) over a unix socket to init and
// exits with the status init answers. Init has the module index in memory: a request costs a
// lookup and the loads, not a runtime's start-up (a second per request under emulation,
// where the kernel's requests during coldplug made settle 4-5x slower with the Node helper).
// The kernel waits for the helper, so modules that need a module at init time (the crypto
// API's algorithm lookups, HDA codecs binding the generic codec) get it then, as with kmod.
import { mkdirSync, renameSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { lookup } from '../core/lookup.js'
import { Prober } from '../core/probe.js'
import { initState, probeInsert, type ProbeInsertContext } from './insert.js'
import type { ModprobeConfig } from '../config/modprobe-conf.js'

export const FORWARD_DIR = '/run/modload'
/** must match SOCKET_PATH in modprobe-forward.c */
export const FORWARD_SOCKET = `${FORWARD_DIR}/helper.sock`
export const FORWARD_HELPER = `${FORWARD_DIR}/modprobe`

/**
 * The module names of a helper call: kmod's modprobe arguments as the kernel passes them
 * (`-q -- NAME`; older kernels omit `--`). Anything else (a flag we do not serve) is an
 * error: the helper then fails, as modprobe does on a bad command line. Pure.
 */
export function parseRequest(args: readonly string[]): { names: string[] } | { error: string } {
  const names: string[] = []
  let options = true
  for (const a of args) {
    if (options && a === '--') options = false
    else if (options && (a === '-q' || a === '--quiet')) continue
    else if (options && a.startsWith('-')) return { error: `unsupported option ${a}` }
    else names.push(a)
  }
  // kmod's modprobe NAME [PARAMS...]: the kernel passes one name and no parameters
  return names.length === 1 ? { names } : { error: names.length ? `expected one module, got ${names.join(' ')}` : 'no module named' }
}

/**
 * What `modprobe -q NAME` does for the kernel, with the modprobe tool's own loading
 * (insert.ts's probeInsert: kmod's rules for dependencies, softdeps, modules already in the
 * kernel, install commands) over the database init already holds. The exit status is
 * modprobe's: 0 when something matched and nothing it needed failed (a blacklisted alias
 * counts as done, as for kmod), else 1; `messages` are what modprobe would have said.
 *
 * One departure from kmod 30, for a module the kernel is loading right now (initstate
 * "coming"): kmod calls finit_module again, which waits in the kernel until the first load
 * ends. When that module's own init is what asked, directly or through another module's
 * init (A's init requests B, whose init requests A back), that wait never ends: a deadlock
 * until the helper's own 60 s limit. So the answer waits while the module is coming, as
 * kmod's would (a module requested while coldplug loads it must be live when the answer
 * comes: ext4 asking for crc32c), but at most `comingWaitMs`; a module still coming then is
 * taken to be waiting for this very answer, and 0 is answered.
 */
export interface ServeOptions {
  /** how long to wait for a module that is coming before answering 0; default 5000 ms */
  comingWaitMs?: number
  /** how often to look at its initstate meanwhile; default 20 ms */
  pollMs?: number
}

/** Wait while `name` is coming: 'live', 'gone' (its load failed, or was never there), or
 * 'coming' when `ms` passed. */
async function whileComing(sysModule: string, name: string, ms: number, pollMs: number): Promise<'live' | 'gone' | 'coming'> {
  const until = Date.now() + ms
  for (;;) {
    const state = initState(sysModule, name)
    if (state === 'live') return 'live'
    if (state !== 'coming') return 'gone'
    if (Date.now() >= until) return 'coming'
    await new Promise((r) => setTimeout(r, pollMs))
  }
}

export async function serveRequest(ctx: ProbeInsertContext, config: ModprobeConfig, name: string, opts: ServeOptions = {}): Promise<{ status: number; messages: string[] }> {
  const messages: string[] = []
  const say = (m: string): void => void messages.push(m.trimEnd())
  const quiet: ProbeInsertContext = { ...ctx, report: { log: say, error: say, info: say, show: () => undefined } }
  const refs = lookup(ctx.db, config, name)
  if (refs === null || refs.length === 0) return { status: 1, messages: [`Module ${name} not found in directory ${ctx.db.dir}`] }
  const prober = new Prober(ctx.db, config)
  let err = 0
  for (const ref of refs) {
    if (initState(ctx.sysModule, ref.name) === 'coming') {
      const waitMs = opts.comingWaitMs ?? 5000
      const outcome = await whileComing(ctx.sysModule, ref.name, waitMs, opts.pollMs ?? 20)
      if (outcome === 'live') {
        err = 0
        continue
      }
      if (outcome === 'coming') {
        say(`${ref.name} is still being loaded after ${waitMs} ms: answered 0 (its init may be what asked, directly or through another module: waiting longer could deadlock)`)
        err = 0
        continue
      }
      // its load failed meanwhile: try it as modprobe would
    }
    err = await probeInsert(quiet, prober, ref, {})
  }
  return { status: err < 0 ? 1 : 0, messages }
}

export interface Forwarding {
  close(): void
}

/** Reads one request (NUL-terminated arguments until the helper shuts its side), answers one
 * status byte. */
function onConnection(conn: net.Socket, answer: (args: string[]) => Promise<number>): void {
  const chunks: Buffer[] = []
  conn.on('data', (b: Buffer) => chunks.push(b))
  conn.on('error', () => conn.destroy())
  conn.on('end', () => {
    const args = Buffer.concat(chunks).toString('latin1').split('\0')
    if (args.at(-1) === '') args.pop()
    answer(args).then(
      (status) => conn.end(Buffer.from([status])),
      () => conn.end(Buffer.from([1])),
    )
  })
}

/** The helper, its socket and their directory, gone; best effort, never throws (it runs on
 * the way to exec'ing the root's init, where a leftover file is harmless). Three unlinks, not
 * rmSync's recursive walk: that loads Node's rimraf, ~40 ms under emulation. */
export function removeForwardFiles(): void {
  for (const [path, remove] of [[FORWARD_SOCKET, unlinkSync], [FORWARD_HELPER, unlinkSync], [FORWARD_DIR, rmdirSync]] as const) {
    try {
      remove(path)
    } catch {
      // gone already, or not ours to remove
    }
  }
}

/**
 * Install the helper program, listen on its socket and point the kernel at it. `answer`
 * gets each call's arguments and returns its exit status. Throws (nothing registered) when
 * any step fails: the caller then keeps the kernel's previous helper.
 */
export async function startForwarding(bytes: Uint8Array, answer: (args: string[]) => Promise<number>, register: (path: string) => void): Promise<Forwarding> {
  mkdirSync(FORWARD_DIR, { recursive: true, mode: 0o755 })
  const tmp = `${FORWARD_HELPER}.${process.pid}`
  writeFileSync(tmp, bytes, { mode: 0o755 })
  renameSync(tmp, FORWARD_HELPER)
  try {
    unlinkSync(FORWARD_SOCKET) // a stale socket from an earlier start; rmSync would load rimraf
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const server = net.createServer({ allowHalfOpen: true }, (conn) => onConnection(conn, answer))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(FORWARD_SOCKET, () => {
      server.off('error', reject)
      resolve()
    })
  })
  // a failing connection must never take init down
  server.on('error', () => undefined)
  register(FORWARD_HELPER)
  return {
    close() {
      server.close()
      removeForwardFiles()
    },
  }
}
