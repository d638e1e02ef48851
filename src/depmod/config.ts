// depmod.d configuration (depmod.d(5)), parsed as kmod's depmod parses it: tolerant, a bad
// line is reported with file:line and skipped.
//
//   search DIR...              directories under /lib/modules/KVER searched first, in order;
//                              "built-in" names the rest of the tree, "external" the externals
//   override MOD KVER-RE DIR   MOD from DIR wins, for kernels matching the regex ("*": all)
//   external KVER-RE DIR       another directory of modules, outside /lib/modules/KVER
//   exclude DIR...             directory names skipped while searching
//   include, make_map_files    accepted and ignored, as kmod does
// Lines: '#' starts a comment line, a trailing backslash continues a line. Files are *.conf in
// each directory; a name seen earlier (in an earlier directory) shadows later ones; all sorted
// by name.
export type SearchEntry = { kind: 'path'; path: string } | { kind: 'builtin' } | { kind: 'external' }

export interface DepmodConfig {
  /**
   * search entries in kmod's list order: the last one listed first. A later position in this
   * list means a higher priority (kmod prepends, then ranks by position), so the first word
   * of the first search line wins, as depmod.d(5) says.
   */
  searches: SearchEntry[]
  /** "SUBDIR/MODNAME" (no extension), the last one listed first; the first match decides */
  overrides: string[]
  externals: string[]
  excludes: string[]
}

export function emptyConfig(): DepmodConfig {
  return { searches: [], overrides: [], externals: [], excludes: [] }
}

/** kmod's cfg_kernel_matches: "*" matches everything, else an extended regex searched in kver. */
function kernelMatches(kver: string, pattern: string): boolean {
  if (pattern === '*') return true
  try {
    return new RegExp(pattern).test(kver)
  } catch {
    return false
  }
}

/**
 * Logical lines as kmod's freadline_wrapped reads them: a backslash before a newline joins the
 * lines, before any other character it is dropped; a line is numbered by its last physical line.
 */
export function logicalLines(text: string): { line: string; lineNo: number }[] {
  const out: { line: string; lineNo: number }[] = []
  let lineNo = 0
  let cur = ''
  let started = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '\n') {
      lineNo++
      out.push({ line: cur, lineNo })
      cur = ''
      started = false
      continue
    }
    started = true
    if (c === '\\') {
      if (text[i + 1] === '\n') {
        lineNo++
        i++
        continue
      }
      if (i + 1 < text.length) cur += text[++i]
      continue
    }
    cur += c
  }
  if (started) out.push({ line: cur, lineNo: lineNo + 1 })
  return out
}

/**
 * Add one file's directives to `cfg` (kmod prepends each entry to its list, so the later a line,
 * the higher its priority among searches/overrides). Returns diagnostics, kmod-worded.
 */
export function parseDepmodConf(cfg: DepmodConfig, text: string, file: string, kver: string): string[] {
  const diags: string[] = []
  const searchesThisFile: SearchEntry[] = []
  for (const { line, lineNo } of logicalLines(text)) {
    if (line === '' || line[0] === '#') continue
    const words = line.split(/[\t ]+/).filter((w) => w.length > 0)
    const cmd = words[0]
    if (cmd === undefined) continue
    const args = words.slice(1)
    switch (cmd) {
      case 'search':
        for (const w of args) {
          searchesThisFile.unshift(w === 'built-in' ? { kind: 'builtin' } : w === 'external' ? { kind: 'external' } : { kind: 'path', path: w })
        }
        break
      case 'override':
        if (args.length < 3) {
          diags.push(`${file}:${lineNo}: ignoring bad line starting with '${cmd}'`)
          break
        }
        if (kernelMatches(kver, args[1])) cfg.overrides.unshift(`${args[2]}/${args[0]}`)
        break
      case 'external':
        if (args.length < 2) {
          diags.push(`${file}:${lineNo}: ignoring bad line starting with '${cmd}'`)
          break
        }
        if (kernelMatches(kver, args[0])) cfg.externals.unshift(args[1])
        break
      case 'exclude':
        cfg.excludes.unshift(...args.slice().reverse())
        break
      case 'include':
      case 'make_map_files':
        break
      default:
        diags.push(`${file}:${lineNo}: ignoring bad line starting with '${cmd}'`)
    }
  }
  // kmod keeps searches as a list with the newest first, and walks it from the head
  cfg.searches.unshift(...searchesThisFile)
  return diags
}

/** After all files: with no "search" line at all, "updates" comes first (kmod's default). */
export function finishConfig(cfg: DepmodConfig): DepmodConfig {
  if (cfg.searches.length === 0) cfg.searches.push({ kind: 'path', path: 'updates' })
  return cfg
}
