// The effective modprobe configuration: which files are read, in which order, and how their
// directives and the kernel command line combine. Pure: the caller lists directories and
// reads files (config-fs.ts does it from disk), this module decides.
//
// kmod's rules (kmod 30, checked against Debian's modprobe): every configuration path is a
// directory or a single file. The files of all directories (names ending in .conf or .alias,
// not starting with '.') go into ONE list sorted by file name; a name already taken by an
// earlier path is skipped, so /etc/modprobe.d/x.conf hides /lib/modprobe.d/x.conf. depmod's
// modules.softdep joins that list under its own name ("modules.softdep", so a.conf is read
// before it and z.conf after). Files are parsed in list order, then the kernel command
// line's options and blacklist are appended. -C replaces the default paths entirely.
import { concatConfigs, parseModprobeConf, type ConfigWarning, type ModprobeConfig } from './modprobe-conf.js'
import { parseKcmdline } from './kcmdline.js'

/** kmod 30's directories, most important first; /usr/lib/modprobe.d is where newer kmod
 * also looks (on a merged-/usr system it is /lib/modprobe.d under another name). */
export const DEFAULT_CONFIG_PATHS = ['/etc/modprobe.d', '/run/modprobe.d', '/usr/local/lib/modprobe.d', '/lib/modprobe.d', '/usr/lib/modprobe.d']

export type ConfigPathListing =
  | { path: string; kind: 'dir'; entries: { name: string; isDir: boolean }[] }
  | { path: string; kind: 'file' }
  | { path: string; kind: 'missing' }

export interface ConfigFile {
  /** the name the file is sorted and deduplicated by */
  name: string
  /** where to read it */
  path: string
}

export function isConfigFileName(name: string): boolean {
  return name[0] !== '.' && name.length >= 6 && (name.endsWith('.conf') || name.endsWith('.alias'))
}

/**
 * The files to parse, in order, from the listings of the configuration paths (in priority
 * order) and the modules directory, whose modules.softdep is read as configuration too.
 */
export function configFileOrder(listings: readonly ConfigPathListing[], modulesDir?: string): ConfigFile[] {
  const files: ConfigFile[] = []
  const insert = (f: ConfigFile): void => {
    let lo = 0
    let hi = files.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (files[mid].name < f.name) lo = mid + 1
      else hi = mid
    }
    if (lo < files.length && files[lo].name === f.name) return // hidden by an earlier path
    files.splice(lo, 0, f)
  }
  for (const l of listings) {
    if (l.kind === 'file') insert({ name: l.path.slice(l.path.lastIndexOf('/') + 1), path: l.path })
    else if (l.kind === 'dir') {
      for (const e of l.entries) if (!e.isDir && isConfigFileName(e.name)) insert({ name: e.name, path: `${l.path}/${e.name}` })
    }
  }
  if (modulesDir !== undefined) insert({ name: 'modules.softdep', path: `${modulesDir}/modules.softdep` })
  return files
}

/** Parse the files (texts in configFileOrder's order; undefined for one that cannot be read)
 * and append the kernel command line. */
export function buildConfig(
  files: readonly { path: string; text: string | undefined }[],
  cmdline: string,
): { config: ModprobeConfig; warnings: ConfigWarning[] } {
  const parts: ModprobeConfig[] = []
  const warnings: ConfigWarning[] = []
  for (const f of files) {
    if (f.text === undefined) continue
    const r = parseModprobeConf(f.text, f.path)
    parts.push(r.config)
    warnings.push(...r.warnings)
  }
  const k = parseKcmdline(cmdline)
  const config = concatConfigs(parts)
  config.options.push(...k.options)
  config.blacklist.push(...k.blacklist)
  return { config, warnings }
}
