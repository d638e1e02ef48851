// Console logging for the init: every line starts with "modload:" so tests, benchmarks and
// people can pick our lines out of the kernel's. Writes synchronously to fd 1, which is the
// console when we are PID 1; a missing console must not kill init, so write errors are dropped.
import { writeSync } from 'node:fs'

export type Log = (line: string) => void

export function consoleLog(fd = 1): Log {
  return (line: string) => {
    try {
      writeSync(fd, `modload: ${line}\n`)
    } catch {
      // no console: nowhere to say it
    }
  }
}
