// Reads the modprobe configuration from disk: lists the configuration paths under a root,
// reads the files and /proc/cmdline. The only I/O of src/config.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { buildConfig, configFileOrder, DEFAULT_CONFIG_PATHS, type ConfigFile, type ConfigPathListing } from './config.js'
import type { ConfigWarning, ModprobeConfig } from './modprobe-conf.js'
import { PROC_CMDLINE } from '../paths.js'

export interface LoadConfigOptions {
  /** prefix for the default directories (not for explicit paths); default '/' */
  root?: string
  /** -C: replaces the default directories */
  paths?: readonly string[]
  /** modules directory whose modules.softdep is read as configuration */
  modulesDir?: string
  /** kernel command line text; default: the contents of /proc/cmdline ('' if unreadable) */
  cmdline?: string
}

function listPath(path: string): ConfigPathListing {
  let st
  try {
    st = statSync(path)
  } catch {
    return { path, kind: 'missing' }
  }
  if (st.isFile()) return { path, kind: 'file' }
  if (!st.isDirectory()) return { path, kind: 'missing' }
  const entries = readdirSync(path, { withFileTypes: true }).map((d) => {
    let isDir = d.isDirectory()
    if (d.isSymbolicLink()) {
      try {
        isDir = statSync(`${path}/${d.name}`).isDirectory()
      } catch {
        isDir = false
      }
    }
    return { name: d.name, isDir }
  })
  return { path, kind: 'dir', entries }
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1')
  } catch {
    return undefined
  }
}

export function loadModprobeConfig(opts: LoadConfigOptions = {}): { config: ModprobeConfig; warnings: ConfigWarning[]; files: ConfigFile[] } {
  const prefix = !opts.root || opts.root === '/' ? '' : opts.root.replace(/\/+$/, '')
  const paths = opts.paths ?? DEFAULT_CONFIG_PATHS.map((p) => prefix + p)
  const files = configFileOrder(paths.map(listPath), opts.modulesDir)
  const texts = files.map((f) => ({ path: f.path, text: readOr(f.path) }))
  const cmdline = opts.cmdline ?? readOr(PROC_CMDLINE) ?? ''
  return { ...buildConfig(texts, cmdline), files }
}
