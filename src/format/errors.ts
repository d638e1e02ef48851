// Errors raised by the index parsers: a corrupt index names its file and line and says what
// to do, because a half-read index would silently load the wrong drivers.
export class IndexError extends Error {
  readonly file: string
  readonly line: number
  readonly code = 'EINDEX'
  constructor(file: string, line: number, what: string) {
    super(`${file}:${line}: ${what} (the index is corrupt: regenerate it with depmod)`)
    this.name = 'IndexError'
    this.file = file
    this.line = line
  }
}
