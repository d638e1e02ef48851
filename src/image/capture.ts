// A machine's /sys capture (host.ts) carried over a serial console: init prints it when the
// kernel command line says `modload.capture`, and the QEMU harness rebuilds the capture
// directory from the console, so host-only images for the test machines can be built on the
// host. One console line per entry, after the usual "modload: " prefix:
//
//   capture begin 1                          format version
//   capture CRC f PATH TEXT                  a file and its contents
//   capture CRC l PATH TARGET                a symlink
//   capture CRC d PATH                       a directory
//   capture end N                            N entries were sent
//
// CRC is the CRC-32 (8 hex digits) of everything after it and its space. PATH, TEXT and TARGET
// are percent-encoded: '%', space, control characters and bytes above 0x7e become %XX (latin1),
// so an entry is one line of printable ASCII whatever it holds (mountinfo has newlines). A
// kernel message landing inside a line breaks its CRC; the count catches lost lines. Lines are
// as long as their entry (a CPU's modalias is about a kilobyte): the serial port has no limit.
import { zlib } from '../sys/lazy.js'
import { captureEntries, type CaptureEntry, type ReadHostOptions } from './host.js'

const VERSION = '1'
const PREFIX = 'modload: capture '

function encode(s: string): string {
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    out += c <= 0x20 || c > 0x7e || c === 0x25 ? `%${(c & 0xff).toString(16).toUpperCase().padStart(2, '0')}` : s[i]
  }
  return out
}

function decode(s: string): string {
  return s.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)))
}

const crcOf = (payload: string): string => zlib().crc32(Buffer.from(payload, 'latin1')).toString(16).padStart(8, '0')

/** The console lines (without "modload: ") that carry `entries`. */
export function captureLines(entries: readonly CaptureEntry[]): string[] {
  const out = [`capture begin ${VERSION}`]
  for (const e of entries) {
    const payload =
      e.kind === 'file' ? `f ${encode(e.path)} ${encode(e.text)}` : e.kind === 'link' ? `l ${encode(e.path)} ${encode(e.target)}` : `d ${encode(e.path)}`
    out.push(`capture ${crcOf(payload)} ${payload}`)
  }
  out.push(`capture end ${entries.length}`)
  return out
}

export class CaptureLinesError extends Error {
  constructor(what: string) {
    super(what)
    this.name = 'CaptureLinesError'
  }
}

/**
 * The entries of the last complete capture in console lines (raw or cut to "modload:"; other
 * lines are ignored). Throws CaptureLinesError when there is none, or when a line's CRC or
 * the count does not match: a partial capture must not pass for a machine's /sys.
 */
export function parseCaptureLines(lines: readonly string[]): CaptureEntry[] {
  let current: CaptureEntry[] | null = null
  let done: CaptureEntry[] | null = null
  const bad: string[] = []
  for (const raw of lines) {
    const at = raw.indexOf(PREFIX)
    if (at < 0) continue
    // not trimmed: an empty file's record ends in a space
    const rest = raw.slice(at + PREFIX.length).replace(/\r$/, '')
    if (rest.startsWith('begin ')) {
      if (rest.trimEnd() !== `begin ${VERSION}`) throw new CaptureLinesError(`capture format "${rest}": this reader knows version ${VERSION}`)
      current = []
      bad.length = 0
      continue
    }
    if (current === null) continue
    if (rest.startsWith('end ')) {
      const n = Number(rest.slice(4).trim())
      if (bad.length) throw new CaptureLinesError(`capture: ${bad.length} damaged line(s), first: ${bad[0].slice(0, 200)}`)
      if (n !== current.length) throw new CaptureLinesError(`capture: ${current.length} entries received, ${rest.slice(4)} sent`)
      done = current
      current = null
      continue
    }
    const sp = rest.indexOf(' ')
    const payload = rest.slice(sp + 1)
    if (sp !== 8 || rest.slice(0, 8) !== crcOf(payload)) {
      bad.push(rest)
      continue
    }
    const f = payload.split(' ')
    if (f[0] === 'f' && f.length === 3) current.push({ kind: 'file', path: decode(f[1]), text: decode(f[2]) })
    else if (f[0] === 'l' && f.length === 3) current.push({ kind: 'link', path: decode(f[1]), target: decode(f[2]) })
    else if (f[0] === 'd' && f.length === 2) current.push({ kind: 'dir', path: decode(f[1]) })
    else bad.push(rest)
  }
  if (done === null) throw new CaptureLinesError(current === null ? 'no capture in the console output' : 'the capture has no end line (cut short?)')
  return done
}

/** Init's part (modload.capture): print the capture of this machine's /sys, one line per
 * entry. Never throws: PID 1 reports and goes on. */
export function emitCapture(log: (line: string) => void, opts: ReadHostOptions = {}): void {
  try {
    for (const line of captureLines(captureEntries(opts))) log(line)
  } catch (err) {
    log(`capture failed: ${(err as Error).message}`)
  }
}
