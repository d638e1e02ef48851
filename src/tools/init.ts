// `modload init`: the /init program (also what PID 1 runs whatever the name).
import { runInit } from '../init/init.js'
import { consoleLog } from '../init/log.js'
import type { Tool } from './io.js'

export const initTool: Tool = {
  name: 'init',
  summary: 'run as the initramfs /init (PID 1): coldplug drivers, then halt or wait',
  async run(_argv, io) {
    const log = consoleLog()
    let sys
    try {
      sys = io.sys()
    } catch (err) {
      log(`error: ${(err as Error).message}`)
      throw err
    }
    await runInit(sys, log)
    // runInit leaves a timer running: PID 1 stays up; as a normal process the caller waits too
    return new Promise<number>(() => {})
  },
}
