// `modload coldplug`: the coldplug of /init for another init (an initramfs-tools or dracut
// hook, a busybox script): loads the drivers of the present and appearing hardware, returns
// when settled. Policy comes from modprobe.d, modules-load.d and /proc/cmdline as for init;
// the options here override the command line's modload.* settings.
import { parseArgs } from 'node:util'
import { readFileSync } from 'node:fs'
import { parseCmdline } from '../format/cmdline.js'
import { coldplugSystem, DEFAULTS, settingsFromCmdline } from '../init/system.js'
import { consoleLoglevel, isKernelConsole, makeLog, openKmsg } from '../init/log.js'
import { succeeded } from '../init/report.js'
import { readImageCmdline } from '../init/cmdline-file.js'
import { PROC_CMDLINE } from '../paths.js'
import { UsageError, type Tool } from './io.js'
import type { Sys } from '../sys/syscalls.js'

export const COLDPLUG_HELP = `usage: modload coldplug [--timeout S] [--quiet-ms N] [--jobs N] [--load A,B] [--debug] [--quiet]

Loads the kernel modules for the hardware present and for devices that appear meanwhile
(uevents), then exits once settled: no load in flight and no uevent for --quiet-ms.

  --timeout S    stop waiting after S seconds (default ${DEFAULTS.timeoutMs / 1000}; modload.timeout=)
  --quiet-ms N   settled after N ms without a uevent (default ${DEFAULTS.quietMs}; modload.quiet_ms=)
  --jobs N       loads in flight at once (default ${DEFAULTS.concurrency}; modload.jobs=)
  --load A,B     also load these modules (as modload.load= and modules-load.d)
  --debug        say more (as modload.debug)
  --quiet        print only failures and the final line

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
        if (!quiet || level === 'error' || level === 'warn' || line.startsWith('coldplug done')) all(line, level)
      }
      const sys = io.sys()
      const report = await coldplugSystem(sys, log, s, cmdlineText)
      const code = succeeded(report) ? 0 : 1
      // the one case where the tool itself ends the process (see exitSoon)
      if (report.hung.length) exit(code, sys)
      return code
    },
  }
}

export const coldplugTool: Tool = makeColdplugTool()
