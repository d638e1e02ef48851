// Writer for the "newc" cpio format the kernel unpacks into its initramfs.
//
// Each entry: a 110-byte ASCII header ("070701" then 13 eight-digit hex fields: ino, mode,
// uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check),
// the NUL-terminated name padded to a multiple of 4, then the data padded to a multiple of 4.
// The archive ends with an entry named "TRAILER!!!". Pure: entries in, byte chunks out; the
// caller decides where they go and how they are compressed.
import { MkInitramfsError } from './errors.js'

export const S_IFDIR = 0o040000
export const S_IFREG = 0o100000
export const S_IFLNK = 0o120000
export const S_IFCHR = 0o020000

export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; mode?: number; data: () => Uint8Array }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'chardev'; path: string; mode?: number; major: number; minor: number }

const hex8 = (n: number): string => (n >>> 0).toString(16).padStart(8, '0')
const pad4 = (n: number): number => (4 - (n % 4)) % 4
const ZEROS = new Uint8Array(4)

function header(f: {
  ino: number
  mode: number
  nlink: number
  mtime: number
  size: number
  rdevMajor?: number
  rdevMinor?: number
  nameSize: number
}): string {
  return (
    '070701' +
    hex8(f.ino) +
    hex8(f.mode) +
    hex8(0) + // uid
    hex8(0) + // gid
    hex8(f.nlink) +
    hex8(f.mtime) +
    hex8(f.size) +
    hex8(0) + // devmajor
    hex8(0) + // devminor
    hex8(f.rdevMajor ?? 0) +
    hex8(f.rdevMinor ?? 0) +
    hex8(f.nameSize) +
    hex8(0) // check
  )
}

function* record(
  name: string,
  fields: Omit<Parameters<typeof header>[0], 'nameSize' | 'size'>,
  data: Uint8Array,
): Generator<Uint8Array> {
  const nameBytes = Buffer.from(name + '\0', 'utf8')
  const head = Buffer.from(header({ ...fields, size: data.length, nameSize: nameBytes.length }), 'latin1')
  yield head
  yield nameBytes
  const np = pad4(head.length + nameBytes.length)
  if (np) yield ZEROS.subarray(0, np)
  if (data.length) {
    yield data
    const dp = pad4(data.length)
    if (dp) yield ZEROS.subarray(0, dp)
  }
}

/** The directories above `path`, outermost first, written as `path` is ("/usr/sbin/modload"
 * -> /usr, /usr/sbin; "usr/sbin/modload" -> usr, usr/sbin). Pure. */
export function parentDirs(path: string): string[] {
  const out: string[] = []
  for (let i = path.indexOf('/', 1); i > 0; i = path.indexOf('/', i + 1)) out.push(path.slice(0, i))
  return out
}

/**
 * Serialise entries in the order given (sort them first for a reproducible archive). Paths are
 * written without a leading '/', as the kernel expects. mtime is seconds since the epoch.
 */
export function* writeCpio(entries: Iterable<CpioEntry>, mtime: number): Generator<Uint8Array> {
  let ino = 1
  for (const e of entries) {
    const name = e.path.replace(/^\/+/, '')
    switch (e.type) {
      case 'dir':
        yield* record(name, { ino: ino++, mode: S_IFDIR | (e.mode ?? 0o755), nlink: 2, mtime }, new Uint8Array(0))
        break
      case 'file':
        yield* record(name, { ino: ino++, mode: S_IFREG | (e.mode ?? 0o644), nlink: 1, mtime }, e.data())
        break
      case 'symlink':
        yield* record(name, { ino: ino++, mode: S_IFLNK | 0o777, nlink: 1, mtime }, Buffer.from(e.target, 'utf8'))
        break
      case 'chardev':
        yield* record(
          name,
          { ino: ino++, mode: S_IFCHR | (e.mode ?? 0o600), nlink: 1, mtime, rdevMajor: e.major, rdevMinor: e.minor },
          new Uint8Array(0),
        )
        break
    }
  }
  yield* record('TRAILER!!!', { ino: 0, mode: 0, nlink: 1, mtime: 0 }, new Uint8Array(0))
}

/** A newc archive that cannot be read back: which archive, at which byte, what is wrong. */
export class CpioError extends MkInitramfsError {
  readonly code = 'ECPIO'
  constructor(
    readonly file: string,
    readonly offset: number,
    what: string,
  ) {
    super(`${file}: offset ${offset}: ${what} (not a newc cpio archive, or a truncated one: rebuild the image)`)
    this.name = 'CpioError'
  }
}

export interface CpioFile {
  path: string
  mode: number
  size: number
  data: Uint8Array
  rdev: [number, number]
}

const HEADER_SIZE = 110

/**
 * Parse a newc archive back into entries (used by tests and by `mkinitramfs --list`); `file`
 * names it in errors. Strict: every header field must be 8 hex digits and every name and
 * body must lie inside the archive, so a damaged archive is a CpioError, never a loop.
 */
export function readCpio(buf: Uint8Array, file = 'cpio archive'): CpioFile[] {
  const out: CpioFile[] = []
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  let off = 0
  for (;;) {
    if (off + HEADER_SIZE > b.length) throw new CpioError(file, off, `truncated header (${b.length - off} bytes left, a header is ${HEADER_SIZE}), no TRAILER!!! entry`)
    const magic = b.toString('latin1', off, off + 6)
    if (magic !== '070701') throw new CpioError(file, off, `bad magic ${JSON.stringify(magic)}, expected "070701"`)
    const field = (i: number): number => {
      const text = b.toString('latin1', off + 6 + i * 8, off + 14 + i * 8)
      if (!/^[0-9a-fA-F]{8}$/.test(text)) throw new CpioError(file, off + 6 + i * 8, `header field ${i} is ${JSON.stringify(text)}, not 8 hex digits`)
      return parseInt(text, 16)
    }
    const mode = field(1)
    const size = field(6)
    const rdev: [number, number] = [field(9), field(10)]
    const nameSize = field(11)
    const nameStart = off + HEADER_SIZE
    if (nameSize < 1 || nameStart + nameSize > b.length) throw new CpioError(file, off, `name of ${nameSize} bytes does not fit in the archive`)
    const name = b.toString('utf8', nameStart, nameStart + nameSize - 1)
    let dataStart = nameStart + nameSize
    dataStart += pad4(dataStart)
    if (name === 'TRAILER!!!') break
    if (dataStart + size > b.length) throw new CpioError(file, off, `${JSON.stringify(name)}: ${size} bytes of data run past the end of the archive`)
    out.push({ path: name, mode, size, data: b.subarray(dataStart, dataStart + size), rdev })
    off = dataStart + size
    off += pad4(off)
  }
  return out
}
