// What a failed module load means, in words a person can act on. kmod's tools print the
// short form ("Invalid module format"); the hint says what usually causes it.
export interface Explanation {
  text: string
  hint: string
}

const TABLE: Record<string, Explanation> = {
  ENOEXEC: { text: 'Invalid module format', hint: 'the file is corrupt or was built for another kernel (check vermagic with modinfo)' },
  ENOENT: { text: 'Unknown symbol in module', hint: 'a dependency is missing or not loaded; run depmod and check dmesg' },
  EINVAL: { text: 'Invalid parameters', hint: 'an option given to the module is unknown or malformed; see dmesg' },
  EEXIST: { text: 'Module already in kernel', hint: 'nothing to do' },
  EKEYREJECTED: { text: 'Key was rejected by service', hint: 'the module signature does not verify (module.sig_enforce is on): use a signed module' },
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
}

/** `path` refines the hint: the kernel reports a compressed file it cannot unpack as EINVAL. */
export function explain(code: string, path = ''): Explanation {
  if (code === 'EINVAL' && /\.ko\.(xz|zst|gz)$/.test(path)) {
    return { text: 'Invalid argument', hint: 'the kernel could not decompress the file (corrupt?) or an option is unknown; see dmesg' }
  }
  return TABLE[code] ?? { text: code, hint: "see dmesg for the kernel's reason" }
}
