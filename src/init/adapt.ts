// How many module loads to keep in flight, from what the CPU did meanwhile. A fixed number
// tuned on a few machines does not carry over: a driver whose init scans a SCSI bus or waits
// for a USB device to answer sleeps in the kernel and holds its slot while the CPU idles,
// and loads that could use that CPU wait behind it. So the limit follows the CPU: while loads
// are waiting for a slot and the CPU was mostly idle since the last look, one more slot; when
// the CPU was busy, one fewer, down to the base. The samples are /proc/stat's first line
// (cumulative jiffies of all CPUs), read by the caller; this file decides.
//
// Beside a boot (a hook's coldplug once the boot script has gone on with the root device), the
// question is another: not whether our loads could use more CPU, but whether the boot script
// needs it. A load holds its CPU in the kernel (module signature check, relocation, the
// driver's init) for tens to hundreds of milliseconds without a preemption point, whatever the
// loader's nice level: on one emulated CPU (virtio, steady clock) initramfs-tools took 1.25 s
// from the root device to the root's mount with the rest of coldplug loading beside it at nice
// 19, and 0.30 s less with those loads stopped. So beside a boot, loads start only on the
// CPUs the rest of the system leaves idle (slotsBesideBoot).

export interface CpuSample {
  /** jiffies the CPUs did work (user, nice, system, irq, softirq, steal) */
  busy: number
  /** jiffies they had nothing to run (idle, iowait) */
  idle: number
  /** the CPUs counted (/proc/stat's cpuN lines); absent when the text has none */
  cpus?: number
}

/** /proc/stat's unit: USER_HZ, 100 per second on every architecture's ABI. */
const JIFFY_MS = 10

/** /proc/stat's "cpu" line; null when the text has none. */
export function parseProcStat(text: string): CpuSample | null {
  const lines = text.split('\n')
  const line = lines.find((l) => l.startsWith('cpu '))
  if (!line) return null
  const f = line.trim().split(/\s+/).slice(1).map(Number)
  if (f.length < 4 || f.some((n) => !Number.isFinite(n))) return null
  const [user, nice, system, idle, iowait = 0, irq = 0, softirq = 0, steal = 0] = f
  const cpus = lines.filter((l) => /^cpu\d+\s/.test(l)).length
  return { busy: user + nice + system + irq + softirq + steal, idle: idle + iowait, ...(cpus > 0 ? { cpus } : {}) }
}

/** Idle share of the time between two samples; null when no time passed. */
export function idleShare(from: CpuSample, to: CpuSample): number | null {
  const busy = to.busy - from.busy
  const idle = to.idle - from.idle
  const all = busy + idle
  return all > 0 ? idle / all : null
}

export interface AdaptInput {
  current: number
  /** the configured number (modload.jobs): never fewer */
  base: number
  /** never more (the thread pool's size) */
  max: number
  /** idle share of the CPU since the last look */
  idle: number
  /** loads ready or queued that wait for a slot */
  waiting: number
  /** loads in flight that hold a slot */
  running: number
}

/** At least this idle share, with loads waiting for a slot: one more slot. (Tried 2026-12-03:
 * half as many again when the CPU was at least 90% idle. Steady clock, modload's e2e images,
 * settled: legacy-pc 5.89 -> 5.85 s, q35 and virtio level, hba-mix 8.01 -> 8.45 s with 1.0 s
 * of idle instead of 0.26: there the loads in flight wait for the SCSI hosts' scans, and so
 * does every load started beside them, whatever its own work.) */
export const RAISE_IDLE = 0.5
/** Less idle than this: one slot fewer (never below the base). */
export const LOWER_IDLE = 0.2

export function nextConcurrency(a: AdaptInput): number {
  if (a.waiting > 0 && a.running >= a.current && a.idle >= RAISE_IDLE) return Math.min(a.max, a.current + 1)
  if (a.idle < LOWER_IDLE && a.current > a.base) return Math.max(a.base, a.current - 1)
  return a.current
}

export interface BesideInput {
  /** jiffies all CPUs did work since the last look (/proc/stat) */
  busy: number
  /** jiffies they idled meanwhile */
  idle: number
  /** how many CPUs those jiffies are of */
  cpus: number
  /** CPU time this process used meanwhile, in ms (its loads' time in the kernel included) */
  ownMs: number
}

/**
 * How many loads a coldplug running beside a boot may have in flight: one per CPU that the
 * rest of the system (the boot script, the kernel's own workers) left free since the last
 * look, rounded; 0 when it needs every CPU. Never more than one per CPU, even on an idle
 * machine: a load holds its CPU in the kernel for hundreds of ms, and the boot that was idle
 * for one look (waiting for udevd, a disk read) needs it back at the next; several loads
 * started on one idle look of a q35 machine held dracut's pre-trigger and trigger back by
 * 0.5 s. Our own loads' CPU time does not count against us: a load that replaces one that
 * ended takes nothing from the boot. null when no time passed. Pure.
 */
export function slotsBesideBoot(a: BesideInput): number | null {
  const all = a.busy + a.idle
  if (all <= 0 || a.cpus < 1) return null
  const wallMs = (all / a.cpus) * JIFFY_MS
  const othersMs = Math.max(0, a.busy * JIFFY_MS - Math.max(0, a.ownMs))
  return Math.min(a.cpus, Math.max(0, Math.round(a.cpus - othersMs / wallMs)))
}
