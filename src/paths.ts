// Every absolute path the program knows, in one place. Functions take a root so tests and
// the -d option can point them at a fake tree.
export function modulesDir(root: string, kver: string): string {
  return `${root === '/' ? '' : root.replace(/\/+$/, '')}/lib/modules/${kver}`
}

export const PROC_MODULES = '/proc/modules'
export const PROC_CMDLINE = '/proc/cmdline'
export const PROC_UPTIME = '/proc/uptime'
export const PROC_STAT = '/proc/stat'
/** kernel taint flags: bit 7 (TAINT_DIE) is set once the kernel oopsed */
export const PROC_TAINTED = '/proc/sys/kernel/tainted'
export const SYS = '/sys'
export const SYS_MODULE = '/sys/module'
export const SYS_MODULE_COMPRESSION = '/sys/module/compression'
export const SYS_CLASS_NET = '/sys/class/net'
export const SYS_CLASS_BLOCK = '/sys/class/block'
/** Written by mkinitramfs from the build host's root chain: the modules that make root= appear
 * and mountable, one name a line. Init loads them first (src/init/system.ts). */
export const IMAGE_ROOT_MODULES = '/etc/modload/root-modules'
/** Written by mkinitramfs when the host selector found the CPU's implementation of the module
 * signature hash: `HASH NAME...` on one line. Init loads those first without looking them up
 * (src/init/system.ts signatureHashFirst). */
export const IMAGE_SIGNATURE_HASH = '/etc/modload/signature-hash'
/** The image's default kernel command line (mkinitramfs.conf "cmdline"), read before /proc/cmdline. */
export const IMAGE_CMDLINE = '/etc/modload/cmdline'
