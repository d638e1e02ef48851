// Reads the image configuration from disk: /etc/modload/mkinitramfs.conf, then
// /etc/modload/mkinitramfs.conf.d/*.conf in name order (byte order, as run-parts and the
// C locale sort), under an injectable root. The only I/O of the image configuration; the
// format and its rules are in config.ts.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { DRIVER_CLASSES } from './classes.js'
import { didYouMean, MkInitramfsConfigError, parseImageConfigFiles, type ImageConfig, type ImageConfigValidation } from './config.js'

export const IMAGE_CONFIG_FILE = '/etc/modload/mkinitramfs.conf'
export const IMAGE_CONFIG_DIR = '/etc/modload/mkinitramfs.conf.d'

export interface LoadImageConfigOptions {
  /** prefix for the default paths (not for `path`); default '/' */
  root?: string
  /** --config FILE: read this file only, which must exist */
  path?: string
  /** --no-config: read nothing (wins over `path`) */
  noConfig?: boolean
  /** checks the parser cannot make alone; default: firmware-exclude names a driver class */
  validate?: ImageConfigValidation
}

export interface LoadedImageConfig {
  config: ImageConfig
  /** the files read, in order */
  files: string[]
}

const isConfName = (n: string): boolean => n.endsWith('.conf') && n.length > '.conf'.length && !n.startsWith('.')

/** A driver class for firmware-exclude: one of classes.ts's. */
export function knownClass(name: string): string | undefined {
  const names = Object.keys(DRIVER_CLASSES)
  if (names.includes(name)) return undefined
  return `unknown class "${name}"${didYouMean(name, names)}; classes: ${names.join(', ')}`
}

/** The default files that exist, in reading order. */
export function imageConfigFiles(root = '/'): string[] {
  const prefix = root === '/' ? '' : root.replace(/\/+$/, '')
  const out: string[] = []
  const main = prefix + IMAGE_CONFIG_FILE
  if (isFile(main)) out.push(main)
  let names: string[] = []
  try {
    names = readdirSync(prefix + IMAGE_CONFIG_DIR)
  } catch (err) {
    if (!isAbsence(err)) throw configReadError(prefix + IMAGE_CONFIG_DIR, err)
  }
  const dir = prefix + IMAGE_CONFIG_DIR
  for (const n of names.filter(isConfName).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    // a directory or a dangling link named *.conf is not configuration
    if (isFile(`${dir}/${n}`)) out.push(`${dir}/${n}`)
  }
  return out
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}

function isAbsence(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'ENOENT' || code === 'ENOTDIR'
}

function configReadError(path: string, err: unknown): MkInitramfsConfigError {
  const e = err as NodeJS.ErrnoException
  return new MkInitramfsConfigError([{ file: path, line: 0, message: `cannot read: ${e.code ?? e.message}` }])
}

/** Read and parse the configuration; throws MkInitramfsConfigError listing every error. */
export function loadImageConfig(opts: LoadImageConfigOptions = {}): LoadedImageConfig {
  if (opts.noConfig) return parsed([], opts)
  if (opts.path !== undefined) {
    if (!isFile(opts.path)) {
      let why = 'not a regular file'
      try {
        statSync(opts.path)
      } catch (err) {
        why = (err as NodeJS.ErrnoException).code ?? 'cannot read'
      }
      throw new MkInitramfsConfigError([{ file: opts.path, line: 0, message: `--config: ${why}` }])
    }
    return parsed([opts.path], opts)
  }
  return parsed(imageConfigFiles(opts.root ?? '/'), opts)
}

function parsed(files: string[], opts: LoadImageConfigOptions): LoadedImageConfig {
  const texts = files.map((path) => {
    try {
      return { path, text: readFileSync(path, 'utf8') }
    } catch (err) {
      throw configReadError(path, err)
    }
  })
  const { config, errors } = parseImageConfigFiles(texts, { validate: opts.validate ?? { firmwareClass: knownClass } })
  if (errors.length) throw new MkInitramfsConfigError(errors)
  return { config, files }
}
