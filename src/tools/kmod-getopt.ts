// Command-line parsing the way kmod's tools get it from glibc's getopt_long: short options
// clustered ("-0F name"), a short option's argument attached or next ("-Fname", "-F name"),
// long options exact or abbreviated to a unique prefix ("--desc"), "--opt=value" or
// "--opt value", operands and options in any order (GNU permutation), "--" ending options.
// Errors come back with glibc's wording, which scripts and people already know.

export interface OptSpec {
  /** the short letter, if any */
  short?: string
  /** the long name, if any */
  long?: string
  /** whether it takes an argument */
  arg?: boolean
  /** the key it is reported under (default: long, else short) */
  key?: string
}

export interface ParsedOpts {
  /** options in command-line order; value is '' for options without argument */
  opts: { key: string; value: string }[]
  operands: string[]
}

export class GetoptError extends Error {
  readonly code = 'ERR_KMOD_GETOPT'
  constructor(message: string) {
    super(message)
    this.name = 'GetoptError'
  }
}

const keyOf = (s: OptSpec): string => s.key ?? s.long ?? (s.short as string)

export function getopt(argv: readonly string[], specs: readonly OptSpec[], prog: string): ParsedOpts {
  const opts: { key: string; value: string }[] = []
  const operands: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--') {
      operands.push(...argv.slice(i + 1))
      break
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=')
      const name = a.slice(2, eq < 0 ? undefined : eq)
      const exact = specs.find((s) => s.long === name)
      const prefixed = specs.filter((s) => s.long?.startsWith(name))
      const spec = exact ?? (prefixed.length === 1 ? prefixed[0] : undefined)
      if (!spec) {
        if (prefixed.length > 1) {
          const list = prefixed.map((s) => `'--${s.long}'`).join(' ')
          throw new GetoptError(`${prog}: option '${a.slice(0, eq < 0 ? undefined : eq)}' is ambiguous; possibilities: ${list}`)
        }
        throw new GetoptError(`${prog}: unrecognized option '${a}'`)
      }
      if (spec.arg) {
        if (eq >= 0) opts.push({ key: keyOf(spec), value: a.slice(eq + 1) })
        else if (i + 1 < argv.length) opts.push({ key: keyOf(spec), value: argv[++i] })
        else throw new GetoptError(`${prog}: option '--${spec.long}' requires an argument`)
      } else {
        if (eq >= 0) throw new GetoptError(`${prog}: option '--${spec.long}' doesn't allow an argument`)
        opts.push({ key: keyOf(spec), value: '' })
      }
      continue
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const spec = specs.find((s) => s.short === a[j])
        if (!spec) throw new GetoptError(`${prog}: invalid option -- '${a[j]}'`)
        if (!spec.arg) {
          opts.push({ key: keyOf(spec), value: '' })
          continue
        }
        if (j + 1 < a.length) opts.push({ key: keyOf(spec), value: a.slice(j + 1) })
        else if (i + 1 < argv.length) opts.push({ key: keyOf(spec), value: argv[++i] })
        else throw new GetoptError(`${prog}: option requires an argument -- '${a[j]}'`)
        break
      }
      continue
    }
    operands.push(a)
  }
  return { opts, operands }
}

/**
 * getopt() for a tool's run(): a usage error is printed as glibc words it and gives null, so
 * the caller returns kmod's exit code 1; any other error propagates.
 */
export function getoptOrReport(
  argv: readonly string[],
  specs: readonly OptSpec[],
  io: { prog: string; err: (text: string) => void },
): ParsedOpts | null {
  try {
    return getopt(argv, specs, io.prog)
  } catch (err) {
    if (!(err instanceof GetoptError)) throw err
    io.err(`${err.message}\n`)
    return null
  }
}
