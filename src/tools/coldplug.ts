// `modload coldplug`: the coldplug of /init for another init (an initramfs-tools or dracut
// hook, a busybox script): loads the drivers of the present and appearing hardware, returns
// when settled. Policy comes from modprobe.d, modules-load.d and /proc/cmdline as for init;
// the options here override the command line's modload.* settings.
import { parseArgs } from 'node:util'
import { closeSync, readdirSync, readFileSync, writeSync } from 'node:fs'
import { setPriority } from 'node:os'
import { msSinceStart } from '../sys/lazy.js'
import { parseCmdline } from '../format/cmdline.js'
import { coldplugSystem, DEFAULTS, openSystemModules, settingsFromCmdline } from '../init/system.js'
import { takeModulesFile } from './modules-file.js'
import { consoleLoglevel, isKernelConsole, makeLog, openKmsg } from '../init/log.js'
import { succeeded } from '../init/report.js'
import { readImageCmdline } from '../init/cmdline-file.js'
import { uptime } from '../init/init.js'
import { PROC_CMDLINE, SYS_MODULE } from '../paths.js'
import { UsageError, type Tool } from './io.js'
import type { Sys } from '../sys/syscalls.js'
import { parseRootSpec, type RootSpec } from '../init/root/options.js'
import type { Log } from '../init/log.js'

export const COLDPLUG_HELP = `usage: modload coldplug [--timeout S] [--quiet-ms N] [--jobs N] [--load A,B] [--debug] [--quiet]
                        [--modules-file FILE] [--ready-fd N [--device SPEC]... [--handover early|settled]]

Loads the kernel modules for the hardware present and for devices that appear meanwhile
(uevents), then exits once settled: no load in flight and no uevent for --quiet-ms.
SIGTERM (or SIGHUP) ends it sooner: no new load starts, the ones in flight are waited for (what was
left is the real root's udev's to load, as after \`udevadm control --exit\`).

  --timeout S    no load starts after S seconds; those in flight get up to 5 s to end
                 (default ${DEFAULTS.timeoutMs / 1000}; modload.timeout=)
  --quiet-ms N   settled after N ms without a uevent (default ${DEFAULTS.quietMs}; modload.quiet_ms=)
  --jobs N       loads in flight at once (default ${DEFAULTS.concurrency}; modload.jobs=)
  --load A,B     also load these modules (as modload.load= and modules-load.d)
  --modules-file FILE
                 also load the modules FILE lists (initramfs-tools' /conf/modules: one
                 \`NAME [PARAM=VALUE]...\` per line, blank lines and # comments skipped), in
                 order, each as \`modprobe LINE\` would: with --ready-fd once the devices
                 are there and before "ready" (only the root's chain loads meanwhile), else
                 after settling; then FILE keeps only the lines that did not load, for the
                 boot script's own modprobe to try again and report
  --debug        say more (as modload.debug)
  --quiet        print only failures and the final line (unless --debug)
  --ready-fd N   for a boot script that goes on once its root device is there: when root=
                 (of /proc/cmdline) and each --device are there, write "ready" to file
                 descriptor N and close it; coldplug goes on, its loads at the lowest CPU
                 priority (nice 19, once the root's chain of /etc/modload/root-modules is
                 loaded; with --handover early, each starting only while the rest of
                 the system leaves a CPU idle: a load's work in the kernel holds its CPU
                 whatever its priority), so that they do not slow down the script's own work, until
                 settled or SIGTERM (the loads in flight then finish at the usual
                 priority). When that never happens, "exit CODE" is written there at the
                 end instead
  --device SPEC  with --ready-fd: this device must be there too (/dev/NAME, UUID=, LABEL=,
                 PARTUUID=, MAJ:MIN; e.g. the resume device)
  --handover H   with --ready-fd: what the boot script does at its end with a coldplug still
                 running. early (default; modload.handover= on the kernel command line
                 when given): it stops it, so the boot's own work comes first and a load
                 starts only while the rest of the system leaves a CPU idle. settled: it
                 waits for it, so the loads fill the boot's idle moments at the lowest
                 priority and settle sooner

Exit status: 0 when every load succeeded (or there was nothing to load); 1 when a module
failed, was skipped because a dependency failed, or was still loading at the timeout;
2 for a usage error. ENODEV and ENXIO (the driver found no device it supports, as cpufreq
drivers matched through the CPU do on most machines) are reported but do not count.
`

function number(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`${what}: not a number: ${v}`)
  return n
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'latin1')
  } catch {
    return ''
  }
}

/** Every thread of this process to `nice` (Linux's setpriority is per thread; threads made
 * later inherit the main thread's): the loads run on libuv's pool and in the kernel, in
 * those threads. */
function reniceAll(nice: number, log: Log): void {
  try {
    for (const tid of readdirSync('/proc/self/task')) setPriority(Number(tid), nice)
  } catch (err) {
    log(`warning: cannot set the loads' CPU priority to nice ${nice} (${(err as Error).message}); they go on as they were`, 'warn')
  }
}

/** The --ready-fd end of the protocol: one line, then the descriptor is closed. */
function tellFd(fd: number, line: string, log: Log): void {
  try {
    writeSync(fd, `${line}\n`)
  } catch (err) {
    log(`warning: --ready-fd ${fd}: cannot write "${line}" (${(err as Error).message})`, 'warn')
  }
  try {
    closeSync(fd)
  } catch {
    // already closed or never open: the write said so
  }
}

/** A hung load keeps libuv's thread pool busy for ever: the process would neither end by
 * itself nor through process.exit(), which joins the pool's threads. _exit() it is. */
function exitSoon(code: number, sys: Sys): void {
  setTimeout(() => sys.exitNow(code), 50)
}

/** `exit` ends the process when a hung load would keep it alive (injectable for tests). */
export function makeColdplugTool(exit: (code: number, sys: Sys) => void = exitSoon): Tool {
  return {
    name: 'coldplug',
    summary: 'load drivers for the present hardware and wait until settled (for another /init)',
    async run(argv, io) {
      const { values } = parseArgs({
        args: argv,
        options: {
          timeout: { type: 'string' },
          'quiet-ms': { type: 'string' },
          jobs: { type: 'string', short: 'j' },
          load: { type: 'string', multiple: true },
          debug: { type: 'boolean' },
          quiet: { type: 'boolean', short: 'q' },
          'ready-fd': { type: 'string' },
          device: { type: 'string', multiple: true },
          handover: { type: 'string' },
          'modules-file': { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
      })
      if (values.help) {
        io.out(COLDPLUG_HELP)
        return 0
      }
      // as init reads it: a modload image's default words, then the boot loader's
      const cmdlineText = readImageCmdline(readOr(PROC_CMDLINE))
      const cmdline = parseCmdline(cmdlineText)
      const s = settingsFromCmdline(cmdline)
      const timeout = number(values.timeout, '--timeout')
      if (timeout !== undefined) s.timeoutMs = timeout * 1000
      s.quietMs = number(values['quiet-ms'], '--quiet-ms') ?? s.quietMs
      s.concurrency = Math.max(1, Math.floor(number(values.jobs, '--jobs') ?? s.concurrency))
      s.debug ||= !!values.debug
      for (const l of values.load ?? []) s.force.push(...l.split(',').filter((n) => n.length > 0))
      // not PID 1: the kernel's /dev/kmsg rate limit applies, so only warnings and errors go
      // there; on the kernel's console, what the kernel echoes from kmsg is not written twice
      const quiet = !!values.quiet
      const echo = isKernelConsole(1) ? consoleLoglevel() : undefined
      const all = makeLog({ console: 1, kmsg: openKmsg(), kmsgMaxPriority: 4, kernelConsoleLevel: echo, debug: s.debug })
      const log: typeof all = (line, level = 'info') => {
        // init keeps each load's line for the kernel log (a serial console is slow); a hook's
        // output is the caller's to read: one line per load unless --quiet
        if (level === 'detail' && /^(loaded|failed) /.test(line)) level = 'info'
        if (!quiet || s.debug || level === 'error' || level === 'warn' || line.startsWith('coldplug done')) all(line, level)
      }
      const readyFd = number(values['ready-fd'], '--ready-fd')
      if (readyFd !== undefined && !Number.isInteger(readyFd)) throw new UsageError(`--ready-fd: not a file descriptor: ${values['ready-fd']}`)
      const devices: RootSpec[] = []
      for (const d of values.device ?? []) {
        const spec = parseRootSpec(d)
        if (spec === null) throw new UsageError(`--device ${d}: not a device (expected /dev/NAME, UUID=, LABEL=, PARTUUID= or MAJ:MIN)`)
        devices.push(spec)
      }
      if (devices.length && readyFd === undefined) throw new UsageError('--device: only with --ready-fd')
      const handover = values.handover ?? cmdline.params.get('modload.handover') ?? 'early'
      if (handover !== 'early' && handover !== 'settled') throw new UsageError(`--handover ${handover}: expected early or settled`)
      if (values.handover !== undefined && readyFd === undefined) throw new UsageError('--handover: only with --ready-fd')
      let ready = false
      const onReady =
        readyFd === undefined
          ? undefined
          : () => {
              ready = true
              tellFd(readyFd, 'ready', log)
            }
      // the rest goes at the lowest priority once the root's chain is loaded too: the mount
      // that comes next must not wait for a file system module at nice 19
      let lowered = false
      const onChainLoaded = (): void => {
        lowered = true
        reniceAll(19, log)
      }
      let onTerm = (): void => undefined
      const stop = new Promise<void>((resolve) => {
        onTerm = () => {
          // the loads in flight finish at the usual priority: at the lowest, a busy root's boot
          // could starve them past the engine's hung-load limit
          if (lowered) reniceAll(0, log)
          resolve()
        }
      })
      // SIGHUP too: dracut's systemd units stop with it (KillSignal=SIGHUP)
      process.once('SIGTERM', onTerm)
      process.once('SIGHUP', onTerm)
      // how long the runtime took to get here (Node's start-up), and when: for modload.debug
      log(`start uptime=${uptime()} runtime start-up ms=${msSinceStart().toFixed(0)}`, 'debug')
      const sys = io.sys()
      let report
      try {
        // the boot script's list: once the root device is there (the boot script would load it
        // right after this), before "ready"; without a root to wait for, after settling
        const file = values['modules-file']
        const opened = file !== undefined ? openSystemModules(log, cmdlineText) : undefined
        const ctx = opened && { ...opened, sys: () => sys, sysModule: SYS_MODULE, log, modprobeOptions: process.env.MODPROBE_OPTIONS }
        let modulesDone: Promise<void> | undefined
        const takeFile =
          file === undefined || ctx === undefined
            ? undefined
            : (): Promise<void> =>
                (modulesDone ??= takeModulesFile(ctx, file).catch((err: unknown) =>
                  log(`warning: --modules-file ${file}: ${(err as Error).message}; what is left of it is the boot script's to load`, 'warn'),
                ))
        report = await coldplugSystem(sys, log, s, cmdlineText, opened, {
          beforeReady: takeFile,
          devices,
          onReady,
          onChainLoaded,
          stop,
          yieldCpu: readyFd !== undefined && handover === 'early',
        })
        // settled (or stopped) first: the list's loads end (or happen) now, the boot script
        // reads the file next
        if (takeFile) await takeFile()
      } finally {
        process.removeListener('SIGTERM', onTerm)
        process.removeListener('SIGHUP', onTerm)
      }
      const code = succeeded(report) ? 0 : 1
      if (readyFd !== undefined && !ready) tellFd(readyFd, `exit ${code}`, log)
      // the one case where the tool itself ends the process (see exitSoon)
      if (report.hung.length) exit(code, sys)
      return code
    },
  }
}

export const coldplugTool: Tool = makeColdplugTool()
