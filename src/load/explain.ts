// What a failed module load means, in words a person can act on. kmod's tools print the
// short form ("Invalid module format"); the hint says what usually causes it. An errno that
// load_module() itself does not return (EIO, EINTR, ...) is usually what the
// module's own init returned: it gets the errno's text (strerror) and a hint saying so.
import { strerror } from '../sys/syscalls.js'

export interface Explanation {
  text: string
  hint: string
}

const TABLE: Record<string, Explanation> = {
  ENOEXEC: { text: 'Invalid module format', hint: 'the file is corrupt or was built for another kernel (check vermagic with modinfo)' },
  // load_module() says ENOENT for a symbol no loaded module exports (kmod's insmod calls it
  // "Unknown symbol in module"), but a module's init also returns it when a file it asked for
  // is missing, most often firmware: both are possible, and dmesg tells which
  ENOENT: {
    text: 'No such file or directory',
    hint: 'either a symbol it needs is exported by no loaded module (dmesg: "Unknown symbol"; a dependency is missing: run depmod), or its init did not find a file it asked for, usually firmware (dmesg: "Direct firmware load ... failed")',
  },
  EINVAL: { text: 'Invalid parameters', hint: 'a parameter given to the module (kernel command line MODULE.PARAM=, modprobe.d options) is unknown or malformed; dmesg names it' },
  EEXIST: { text: 'Module already in kernel', hint: 'nothing to do' },
  EKEYREJECTED: { text: 'Key was rejected by service', hint: 'module signatures are enforced (module.sig_enforce=1 or lockdown) and the module is unsigned or its signature does not verify: use a module signed with a key the kernel trusts' },
  ENOKEY: { text: 'Required key not available', hint: 'the module is unsigned or signed by an unknown key and signatures are enforced' },
  EBADMSG: { text: 'Bad message', hint: 'the module signature is malformed' },
  ENODEV: { text: 'No such device', hint: 'the driver found no hardware it supports (harmless for probing loads)' },
  EBUSY: { text: 'Device or resource busy', hint: 'another driver holds the device' },
  EPERM: { text: 'Operation not permitted', hint: 'module loading is disabled (modules_disabled, lockdown) or we lack CAP_SYS_MODULE' },
  EACCES: { text: 'Permission denied', hint: 'the module file cannot be read, or the kernel refuses it under lockdown' },
  EOPNOTSUPP: { text: 'Operation not supported', hint: 'this kernel cannot decompress the module itself; it must be loaded uncompressed' },
  ENOMEM: { text: 'Cannot allocate memory', hint: 'the machine is out of memory' },
  ENOSPC: { text: 'No space left on device', hint: 'the kernel ran out of module space' },
  ETIMEDOUT: { text: 'Timed out', hint: 'the module init took too long' },
  EIO: { text: 'Input/output error', hint: "the module's init failed talking to its hardware (it returned -EIO); see dmesg for the driver's reason" },
  EINTR: { text: 'Interrupted system call', hint: "the module's init was interrupted by a signal to the loading process" },
}

/** What open() failing on a module file means: the load never reached the kernel. */
const OPEN: Record<string, Explanation> = {
  ENOENT: { text: 'No such file or directory', hint: 'the module file is missing: the index names a file the image (or the module directory) does not have; rebuild the image or run depmod' },
  EACCES: { text: 'Permission denied', hint: 'the module file cannot be read' },
}

/** `path` refines the hint: the kernel reports a compressed file it cannot unpack as EINVAL
 * (not after init_module: those bytes were decompressed here, and a file that would not
 * decompress never reached the kernel). `errno` gives the text of a code the table does not
 * know. `syscall` 'open': the module file itself could not be opened. */
export function explain(code: string, path = '', errno?: number, syscall?: string): Explanation {
  if (syscall === 'open') return OPEN[code] ?? { text: errno === undefined ? code : strerror(errno), hint: 'the module file could not be opened' }
  if (code === 'EINVAL' && syscall !== 'init_module' && /\.ko\.(xz|zst|gz)$/.test(path)) {
    return { text: 'Invalid argument', hint: 'the kernel could not decompress the file (corrupt?) or an option is unknown; see dmesg' }
  }
  return TABLE[code] ?? { text: errno === undefined ? code : strerror(errno), hint: "probably what the module's own init returned; see dmesg for the driver's reason" }
}
