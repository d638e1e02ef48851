// `modload resolve`: batch alias resolution for tools and benchmarks. Reads aliases or module
// names from stdin, one a line, and prints "ALIAS<TAB>mod1 mod2 ..." (nothing after the tab
// when nothing matches).
import { parseArgs } from 'node:util'
import { release } from 'node:os'
import { openModuleDb } from '../core/moddb-fs.js'
import { resolve } from '../core/moddb.js'
import type { Tool } from './io.js'

export const resolveTool: Tool = {
  name: 'resolve',
  summary: 'resolve aliases read from stdin to module names',
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: { basedir: { type: 'string', short: 'd' }, 'set-version': { type: 'string', short: 'S' } },
    })
    const db = openModuleDb(values.basedir ?? '/', values['set-version'] ?? release())
    const lines = (await io.stdin()).split('\n')
    const out: string[] = []
    for (const line of lines) {
      const alias = line.trim()
      if (alias.length === 0) continue
      const r = resolve(db, alias)
      out.push(`${alias}\t${r.kind === 'none' ? '' : r.names.join(' ')}`)
    }
    io.out(out.length ? out.join('\n') + '\n' : '')
    return 0
  },
}
