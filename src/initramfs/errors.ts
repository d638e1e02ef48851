// The error type of image building: a message that names the file, module or setting at fault
// and what to do about it.
export class MkInitramfsError extends Error {
  constructor(what: string) {
    super(what)
    this.name = 'MkInitramfsError'
  }
}
