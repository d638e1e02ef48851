// Kernel uevents, as the kernel multicasts them on NETLINK_KOBJECT_UEVENT group 1.
//
// Format of one datagram: "ACTION@DEVPATH\0" then "KEY=VALUE\0" pairs (ACTION, DEVPATH,
// SUBSYSTEM, SEQNUM, and per device MODALIAS, DEVTYPE, DRIVER, ...). udev's re-broadcasts on
// group 2 start with "libudev\0" and a binary header; they are not ours and parse to null.
// Pure: bytes in, event out. UeventSource (below) is the I/O side, over the shim.
import type { Sys } from '../sys/syscalls.js'

export interface Uevent {
  action: string
  devpath: string
  env: Map<string, string>
}

export function parseUevent(bytes: Uint8Array): Uevent | null {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
  const parts = text.split('\0')
  const head = parts[0]
  const at = head.indexOf('@')
  if (at <= 0 || head.startsWith('libudev')) return null
  const env = new Map<string, string>()
  for (const p of parts.slice(1)) {
    const eq = p.indexOf('=')
    if (eq > 0) env.set(p.slice(0, eq), p.slice(eq + 1))
  }
  return { action: env.get('ACTION') ?? head.slice(0, at), devpath: env.get('DEVPATH') ?? head.slice(at + 1), env }
}

/** Where coldplug gets uevents from: drain() returns what is queued now, without waiting. */
export interface UeventSource {
  drain(): Uevent[]
  /** true when the kernel dropped events because our queue was full (ENOBUFS) since the last
   * call: what they said is only in /sys now */
  overflowed(): boolean
  /** Resolves when an event may be queued, or after at most `ms`; absent: look every tick */
  wait?(ms: number): Promise<void>
  close(): void
}

/** Longest single wait on the socket: a wait still pending when the caller has moved on holds
 * a thread-pool thread until then. */
const MAX_WAIT_MS = 100

/** The kernel's uevent socket. Open it before looking at /sys, so no device falls in between. */
export function openUeventSource(sys: Pick<Sys, 'ueventSocket' | 'recv'> & Partial<Pick<Sys, 'pollAsync'>>, closeFd: (fd: number) => void): UeventSource {
  const fd = sys.ueventSocket()
  const buf = new Uint8Array(64 * 1024)
  let lost = false
  // one poll at a time: a caller woken by something else finds it still pending next time
  let pending: Promise<void> | null = null
  const pollAsync = sys.pollAsync?.bind(sys)
  return {
    wait: pollAsync
      ? (ms) =>
          (pending ??= pollAsync(fd, Math.max(0, Math.min(Math.ceil(ms), MAX_WAIT_MS))).then(
            () => void (pending = null),
            () => void (pending = null),
          ))
      : undefined,
    drain() {
      const out: Uevent[] = []
      for (;;) {
        let n: number | null
        try {
          n = sys.recv(fd, buf)
        } catch (err) {
          if ((err as { code?: string }).code === 'ENOBUFS') {
            lost = true
            continue
          }
          throw err
        }
        if (n === null) return out
        const ev = parseUevent(buf.subarray(0, n))
        if (ev) out.push(ev)
      }
    },
    overflowed: () => {
      const was = lost
      lost = false
      return was
    },
    close: () => closeFd(fd),
  }
}
