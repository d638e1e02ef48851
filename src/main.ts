// The executable's start: pick the command, give it its arguments and I/O, turn its result
// into an exit code. As PID 1 nothing may end the process: errors are logged and init stays up.
// Nothing here runs at import: src/cli.ts calls start(), at once or, in the executable, when
// the start-up snapshot (every module already evaluated) is deserialised.
import { applyBootFlags } from './boot-flags.js'
import { readFileSync } from 'node:fs'
import { COMMANDS, dispatch, helpText } from './commands.js'
import { VERSION } from './version.js'
import { UsageError, type ToolIo } from './tools/io.js'
import { loadSys } from './sys/native.js'
import type { Sys } from './sys/syscalls.js'

function write(fd: 1 | 2, text: string): void {
  try {
    ;(fd === 1 ? process.stdout : process.stderr).write(text)
  } catch {
    // a closed console must not take init down
  }
}

async function main(): Promise<number> {
  const isInit = process.pid === 1
  if (isInit) {
    // The kernel passes HOME=/ to init; os.tmpdir() falls back to /tmp by itself, so TMPDIR is
    // left alone: whatever we add here would leak into the real init's environment.
    process.env.HOME ??= '/'
    const keepAlive = (what: string) => (err: unknown) => write(1, `modload: error: ${what}: ${(err as Error)?.stack ?? err}\n`)
    process.on('uncaughtException', keepAlive('uncaught exception'))
    process.on('unhandledRejection', keepAlive('unhandled rejection'))
  }
  const d = dispatch(process.argv0, process.argv.slice(2), process.pid)
  if (d.kind === 'tool') applyBootFlags(d.tool.name)
  switch (d.kind) {
    case 'help':
      write(1, helpText(VERSION))
      return 0
    case 'version':
      write(1, `modload ${VERSION}\n`)
      return 0
    case 'unknown':
      write(2, `modload: unknown command '${d.name}' (commands: ${COMMANDS.map((c) => c.name).join(', ')}; see modload --help)\n`)
      return 2
    case 'tool': {
      let sys: Sys | undefined
      const io: ToolIo = {
        prog: d.prog,
        out: (t) => write(1, t),
        err: (t) => write(2, t),
        sys: () => (sys ??= loadSys()),
        stdin: async () => readFileSync(0, 'utf8'),
      }
      try {
        return await d.tool.run(d.argv, io)
      } catch (err) {
        const e = err as Error & { code?: string }
        if (e instanceof UsageError || e.code?.startsWith('ERR_PARSE_ARGS')) {
          write(2, `${d.prog}: ${e.message}\n`)
          return 2
        }
        write(2, `${d.prog}: ${e.message}\n`)
        if (process.env.MODLOAD_DEBUG) write(2, `${e.stack}\n`)
        return 1
      }
    }
  }
}

// As PID 1 an ended main() would let the process exit and panic the kernel: stay up instead.
function stayUp(why: string): void {
  write(1, `modload: ${why}; staying up (PID 1 must not exit)\n`)
  setInterval(() => write(1, `modload: ${why}; waiting\n`), 60_000)
}

/** Runs the command this process was started as. Reads the environment, argv and pid here,
 * never at import: in the executable they would be the build machine's. */
export function start(): void {
  // finit_module runs on libuv's thread pool (coldplug loads modules in parallel) and a module
  // whose init hangs keeps its thread: more threads than parallel loads, so file I/O and the
  // other loads go on. libuv reads this when the pool first starts, which is after this line.
  process.env.UV_THREADPOOL_SIZE ??= '16'
  main().then(
    (code) => {
      if (process.pid === 1) stayUp(`init returned ${code}`)
      else process.exitCode = code
    },
    (err) => {
      write(2, `modload: ${(err as Error)?.stack ?? err}\n`)
      if (process.pid === 1) stayUp('init failed')
      else process.exitCode = 1
    },
  )
}
