// V8 settings for the early-boot roles (init as PID 1, `modload coldplug`), applied before any
// other module of the bundle runs: main.ts imports this file first.
//
// At early boot the program runs once, for a few seconds, on a machine that may be emulated
// (QEMU's TCG: no KVM on the project's machines, nor on many CI and cross-architecture boards).
// V8's optimizing tiers (Sparkplug, Maglev, Turbofan) compile hot functions to machine code
// in the background; under emulation every new code page must then be translated again by
// the emulator, which costs more than the interpreter saves in so short a run. Measured on
// the q35 machine (Debian 6.1, 1 vCPU, TCG, 3 boots each): /init start to settled 6.5 s with
// the tiers, 4.1 s without them, 5.5 s with --jitless (which cannot be set at run time and
// would also drop WebAssembly). The classic tools (depmod over a whole tree, the resolver
// benchmark) keep the tiers.
import v8 from 'node:v8'

const FLAGS = ['--no-sparkplug', '--no-maglev', '--no-turbofan']

/** The other commands' names, which win over PID 1 as in commands.ts's dispatch (this file
 * cannot import that table: it must run before the modules it pulls in; a test keeps the two
 * in step). */
const OTHER_COMMANDS = new Set(['modprobe', 'insmod', 'rmmod', 'lsmod', 'modinfo', 'depmod', 'mkinitramfs', 'resolve', 'scan', 'install-hooks'])

/** Whether dispatch will run init or coldplug for this process. */
export function isBootRole(pid: number, argv0: string, args: readonly string[]): boolean {
  const invoked = argv0.slice(argv0.lastIndexOf('/') + 1)
  if (invoked === 'init' || invoked === 'coldplug') return true
  if (OTHER_COMMANDS.has(invoked)) return false
  return pid === 1 || args[0] === 'coldplug' || args[0] === 'init'
}

if (isBootRole(process.pid, process.argv0, process.argv.slice(2))) for (const f of FLAGS) v8.setFlagsFromString(f)
