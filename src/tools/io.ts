// What a tool gets from the entry point: its arguments, where to write, and the syscalls
// (loaded lazily, because most tools never make one and loading the shim costs a dlopen).
import type { Sys } from '../sys/syscalls.js'

export interface ToolIo {
  out: (text: string) => void
  err: (text: string) => void
  /** the program name to put in messages, e.g. "modprobe" */
  prog: string
  sys: () => Sys
  stdin: () => Promise<string>
}

export interface Tool {
  name: string
  summary: string
  run: (argv: string[], io: ToolIo) => Promise<number>
}

export class UsageError extends Error {
  constructor(what: string) {
    super(what)
    this.name = 'UsageError'
  }
}
