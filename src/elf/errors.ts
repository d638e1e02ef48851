// Errors raised while reading a module file, shaped like Node's system errors (errno, code,
// path) with the errno kmod would report, so a tool can print kmod's words for it
// ("Exec format error", "Invalid argument") and still say which file and why.
import { constants } from 'node:os'

const ERRNO = constants.errno as Readonly<Record<string, number>>

export class ModuleFormatError extends Error {
  readonly errno: number
  constructor(
    readonly path: string,
    readonly code: 'ENOEXEC' | 'EINVAL' | 'ENOENT',
    what: string,
  ) {
    super(`${path}: ${what} (not a kernel module, or a damaged one: check the file, reinstall the module)`)
    this.name = 'ModuleFormatError'
    this.errno = ERRNO[code]
  }
}
