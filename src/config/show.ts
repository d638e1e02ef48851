// The effective configuration as `modprobe -c` prints it (kmod 30): blacklists, install and
// remove commands, aliases, options, softdeps (kmod writes "pre: A B" and "post: C" with no
// space between them, and a softdep with neither as an empty value), then the alias and
// symbol indexes in index order ("alias PATTERN MODULE", patterns normalised, sorted).
import type { ModprobeConfig } from './modprobe-conf.js'

export function softdepValue(pre: readonly string[], post: readonly string[]): string {
  return (pre.length ? `pre: ${pre.join(' ')}` : '') + (post.length ? `post: ${post.join(' ')}` : '')
}

export function formatConfig(config: ModprobeConfig): string {
  const out: string[] = []
  for (const b of config.blacklist) out.push(`blacklist ${b}\n`)
  for (const c of config.install) out.push(`install ${c.module} ${c.command}\n`)
  for (const c of config.remove) out.push(`remove ${c.module} ${c.command}\n`)
  for (const a of config.aliases) out.push(`alias ${a.name} ${a.module}\n`)
  for (const o of config.options) out.push(`options ${o.module} ${o.options}\n`)
  for (const s of config.softdeps) out.push(`softdep ${s.module} ${softdepValue(s.pre, s.post)}\n`)
  return out.join('')
}

export const END_OF_CONFIG = '\n# End of configuration files. Dumping indexes now:\n\n'

export function formatIndexDump(pairs: readonly [string, string][]): string {
  let s = ''
  for (const [pattern, module] of pairs) s += `alias ${pattern} ${module}\n`
  return s
}
