// V8 settings for the early-boot roles (init as PID 1, `modload coldplug`), applied by main.ts
// once dispatch has picked the command, before it runs (never while the start-up snapshot is
// built: the flags belong to the process that boots).
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

export const BOOT_FLAGS = ['--no-sparkplug', '--no-maglev', '--no-turbofan'] as const

/** The commands that run at early boot. */
export function isBootCommand(name: string): boolean {
  return name === 'init' || name === 'coldplug'
}

/** Turns the optimizing tiers off for this process when `command` is a boot role. */
export function applyBootFlags(command: string): void {
  if (isBootCommand(command)) for (const f of BOOT_FLAGS) v8.setFlagsFromString(f)
}
