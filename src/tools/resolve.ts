// `modload resolve`: batch alias resolution for tools and benchmarks. Reads aliases or module
// names from stdin, one a line, and prints "ALIAS<TAB>mod1 mod2 ..." (nothing after the tab
// when nothing matches): kmod's lookup (modprobe -R), names deduplicated, in kmod's order.
// modprobe.d is read as modprobe reads it (-C replaces the directories); --no-config reads
// none, for answers that depend on the tree alone.
import { parseArgs } from 'node:util'
import { readFileSync } from 'node:fs'
import { openModuleDir } from '../core/moddb-fs.js'
import { lookupNames } from '../core/lookup.js'
import { loadModprobeConfig } from '../config/config-fs.js'
import { kmodDirname } from './modprobe.js'
import type { Tool } from './io.js'

export const resolveTool: Tool = {
  name: 'resolve',
  summary: 'resolve aliases read from stdin to module names',
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: {
        basedir: { type: 'string', short: 'd' },
        dirname: { type: 'string' },
        'set-version': { type: 'string', short: 'S' },
        config: { type: 'string', short: 'C', multiple: true },
        'no-config': { type: 'boolean' },
      },
    })
    const dir = kmodDirname(values.basedir ?? values.dirname, values['set-version'], process.cwd())
    const db = openModuleDir(dir)
    let config = null
    if (!values['no-config']) {
      let cmdline = ''
      try {
        cmdline = readFileSync('/proc/cmdline', 'latin1')
      } catch {
        // no /proc: no command-line options
      }
      const r = loadModprobeConfig({ paths: values.config, modulesDir: dir, cmdline })
      for (const w of r.warnings) io.err(`${io.prog}: WARNING: ${w.file}:${w.line}: ${w.message}\n`)
      config = r.config
    }
    const lines = (await io.stdin()).split('\n')
    let out = ''
    for (const line of lines) {
      const alias = line.trim()
      if (alias.length === 0) continue
      out += `${alias}\t${lookupNames(db, config, alias).join(' ')}\n`
    }
    io.out(out)
    return 0
  },
}
