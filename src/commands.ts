// The table of commands the one executable answers to, and the dispatch rule: the invoked name
// (a symlink such as /sbin/modprobe), else the first argument, else, as PID 1, init.
import { basename } from 'node:path'
import { initTool } from './tools/init.js'
import { mkinitramfsTool } from './tools/mkinitramfs.js'
import { resolveTool } from './tools/resolve.js'
import { modprobeTool } from './tools/modprobe.js'
import { modinfoTool } from './tools/modinfo.js'
import { depmodTool } from './tools/depmod.js'
import { lsmodTool } from './tools/lsmod.js'
import { insmodTool } from './tools/insmod.js'
import { rmmodTool } from './tools/rmmod.js'
import { coldplugTool } from './tools/coldplug.js'
import { scanTool } from './tools/scan.js'
import { installHooksTool } from './tools/install-hooks.js'
import { integrateTool } from './tools/integrate.js'
import type { Tool } from './tools/io.js'

export const COMMANDS: readonly Tool[] = [initTool, mkinitramfsTool, resolveTool, modprobeTool,
  modinfoTool, depmodTool, lsmodTool, insmodTool, rmmodTool, coldplugTool, scanTool, installHooksTool, integrateTool]

export type Dispatch =
  | { kind: 'tool'; tool: Tool; argv: string[]; prog: string }
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'unknown'; name: string }

export function dispatch(invokedAs: string, args: string[], pid: number): Dispatch {
  const find = (n: string): Tool | undefined => COMMANDS.find((c) => c.name === n)
  const self = basename(invokedAs)
  const byName = self === 'init' ? initTool : find(self)
  if (byName) return { kind: 'tool', tool: byName, argv: args, prog: self }
  if (pid === 1) return { kind: 'tool', tool: initTool, argv: args, prog: 'init' }
  const first = args[0]
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') return { kind: 'help' }
  if (first === '--version' || first === '-V' || first === 'version') return { kind: 'version' }
  const tool = find(first)
  if (tool) return { kind: 'tool', tool, argv: args.slice(1), prog: first }
  return { kind: 'unknown', name: first }
}

export function helpText(version: string): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length))
  return [
    `modload ${version}: early-boot kernel-module loader`,
    '',
    'usage: modload COMMAND [ARGS...]   (or call it through a symlink named COMMAND)',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'As PID 1 (the initramfs /init) it runs "init". Kernel command line options:',
    '  modload.halt    power off after coldplug, listing live modules',
    '  modload.debug   also list devices that matched no driver, and more detail',
    '  modload.timeout=S   stop waiting for coldplug after S seconds (default 60)',
    '  modload.quiet_ms=N  settled after N ms without a uevent (default 250)',
    '  modload.jobs=N  module loads in flight at once to begin with (default 4)',
    '  modload.maxjobs=N   at most this many while the CPU idles (default 16)',
    '  modload.handover=early  hand over once the root device is there',
    '  modload.load=A,B    also load these modules (and /etc/modules-load.d/*.conf)',
    "  modload.sighash=off do not load the CPU's signature-hash module first",
    '  modprobe.blacklist=A,B  do not load these for devices',
    '  MOD.PARAM=VAL   module parameters',
    '',
  ].join('\n')
}
