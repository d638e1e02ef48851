// The configuration of `modload mkinitramfs` and of the kernel hooks that call it:
// /etc/modload/mkinitramfs.conf, then /etc/modload/mkinitramfs.conf.d/*.conf in name order
// (config-fs.ts finds and reads them; this file is the pure parser: text and file name in,
// typed configuration and errors out).
//
// Format: one directive per line, words separated by spaces or tabs. A line whose first
// non-blank character is '#' is a comment; blank lines are ignored; a '\' that ends a line
// joins the next line to it (errors name the first line of a joined line).
//
//   modules SELECTOR...        the modules to put in (list; default: host usb-host input)
//       host                   what this machine needs: its devices' drivers, the loaded
//                              modules, its root's drivers and filesystem; not what no boot
//                              waits for (processor features, sound, Wi-Fi, watchdogs, ...)
//       host-all               host with nothing left to the root's loader
//       cpu                    the processor-feature modules (kvm, crypto accelerators)
//       all                    every module of the kernel
//       WORD                   a class (storage, usb-host, input, net, fs, crypto, virt, mmc,
//                              nvme), else a module name or alias (virtio_blk, fs-ext4)
//       GLOB                   a word with '/' or '*': module paths under lib/modules/KVER
//                              (kernel/drivers/ata/*)
//       -SELECTOR              take out what SELECTOR names, whichever selector added it
//       ?SELECTOR              a name or glob that may be absent from the kernel
//   compress KIND[:LEVEL]      gzip (level 1-9), zstd (1-22), lz4 (1-12), xz (0-9) or none
//                              (default zstd at the builder's default level)
//   compress-runtime KIND|same the executable and its libraries in an archive of their own,
//                              compressed KIND (no level: the kind's default), or `same`: in
//                              the main archive (default lz4 when the kernel's config has
//                              CONFIG_RD_LZ4=y and `compress` is tighter, else same; none is
//                              cheapest under emulation, zstd on slow boot media)
//   compress-modules each|archive  each module outside the root's chain compressed on its own
//                              and decompressed by init when loaded, or all in the main
//                              archive as the tree has them (default each, archive with
//                              `compress none`)
//   firmware yes|no            add the firmware the modules declare (default yes)
//   firmware-exclude CLASS...  but not for the modules of these classes (list)
//   strict-firmware yes|no     a declared firmware file that is missing is an error, not a
//                              warning (default no)
//   add SRC[:DEST]             an extra file, absolute paths; DEST defaults to SRC (list)
//   cmdline WORDS...           a default kernel command line, stored in the image as
//                              /etc/modload/cmdline; init reads it before /proc/cmdline, so
//                              the boot loader's words win for the same key (list; quoted as
//                              the kernel does: opt="a b"; no "--")
//   output PATH                the image the kernel hooks write; %k is the kernel release,
//                              %% a '%' (default /boot/initrd.img-%k)
//   modprobe-d yes|no          put the host's modprobe.d and modules-load.d in the image
//                              (default yes)
//
// A single-valued directive given again (later in a file, or in a later file) replaces the
// earlier value. The list directives (modules, firmware-exclude, add, cmdline) accumulate;
// `DIRECTIVE = WORDS...` (a lone '=' as second word) first drops what earlier lines and files
// said, the default included (`modules = host` means host only, `cmdline =` means none). The
// tool's command-line flags override the files (mergeImageSettings). Selectors are kept in
// order with where each was written; which module each names is select.ts's business (a
// WORD is a class when classes.ts has it; `modules all -floppy`).
//
// Strict, unlike modprobe.d: a typo in an image configuration must not silently build another
// image, so every bad line is an error naming FILE:LINE, what is wrong and what is accepted.
// All errors are returned, not only the first; the caller refuses to build when there is one.
import { splitCmdline } from '../format/cmdline.js'
import { MkInitramfsError } from '../initramfs/errors.js'
import { COMPRESSIONS, MODULE_FILES, type Compression, type ModuleFiles } from '../initramfs/output.js'
import { CLASS_NAMES, DEFAULT_SELECTORS } from './classes.js'

export const IMAGE_COMPRESSIONS = COMPRESSIONS
export type ImageCompression = Compression

/** The levels each compressor accepts (none takes no level): a new kind in output.ts must say. */
export const COMPRESSION_LEVELS: Record<ImageCompression, readonly [number, number] | null> = {
  gzip: [1, 9],
  zstd: [1, 22],
  lz4: [1, 12],
  xz: [0, 9],
  none: null,
}

export interface CompressSetting {
  kind: ImageCompression
  /** undefined: the builder's default for the kind */
  level?: number
}

export type SelectorKind = 'host' | 'host-all' | 'cpu' | 'all' | 'word' | 'glob'

export interface ModuleSelector {
  /** word: a class name or a module name or alias, for the caller to tell apart */
  kind: SelectorKind
  /** the word without its '-' or '?' ('host', 'cpu' and 'all' for those kinds) */
  value: string
  /** -SELECTOR: take out what it selects */
  remove: boolean
  /** ?SELECTOR: selecting nothing is not an error */
  optional: boolean
  /** where it was written, for the caller's messages: "FILE:LINE", or the flag */
  at: string
}

export interface AddFile {
  src: string
  dest: string
  at: string
}

/** A list directive's entries, and whether a reset (`NAME = ...`) dropped what came before. */
export interface ListSetting<T> {
  reset: boolean
  items: T[]
}

/** compress-runtime: a kind for the runtime's own archive, or 'same' (the main archive) */
export type RuntimeCompression = ImageCompression | 'same'

/** What the configuration files say: unset single values are undefined. */
export interface ImageConfig {
  modules: ListSetting<ModuleSelector>
  compress?: CompressSetting
  compressRuntime?: RuntimeCompression
  compressModules?: ModuleFiles
  firmware?: boolean
  firmwareExclude: ListSetting<string>
  strictFirmware?: boolean
  add: ListSetting<AddFile>
  /** kernel command-line words, unquoted */
  cmdline: ListSetting<string>
  /** a template with %k */
  output?: string
  modprobeD?: boolean
}

/** The settings the builder uses: files and defaults merged, flags applied. */
export interface ImageSettings {
  modules: ModuleSelector[]
  compress: CompressSetting
  /** undefined: the builder's default for the kernel (defaultRuntimeCompression) */
  compressRuntime?: RuntimeCompression
  /** undefined: the builder's default for the compression */
  compressModules?: ModuleFiles
  firmware: boolean
  firmwareExclude: string[]
  strictFirmware: boolean
  add: AddFile[]
  cmdline: string[]
  output: string
  modprobeD: boolean
}

/** The tool's flags: each one given replaces what the files say (--add appends, see
 * mergeImageSettings). */
export interface ImageFlags {
  modules?: ModuleSelector[]
  compress?: CompressSetting
  compressRuntime?: RuntimeCompression
  compressModules?: ModuleFiles
  firmware?: boolean
  firmwareExclude?: string[]
  strictFirmware?: boolean
  add?: AddFile[]
  cmdline?: string[]
  output?: string
  modprobeD?: boolean
}


export interface ImageConfigError {
  file: string
  /** 0: the file as a whole (it cannot be read) */
  line: number
  message: string
}

/** A configuration that cannot be used: every error, each as FILE:LINE: MESSAGE. */
export class MkInitramfsConfigError extends MkInitramfsError {
  readonly errors: readonly ImageConfigError[]
  constructor(errors: readonly ImageConfigError[]) {
    super(errors.map((e) => `${e.file}${e.line > 0 ? `:${e.line}` : ''}: ${e.message}`).join('\n'))
    this.name = 'MkInitramfsConfigError'
    this.errors = errors
  }
}

/** Checks only the caller can make (it has the class lists): a message, or undefined when fine. */
export interface ImageConfigValidation {
  selector?: (s: ModuleSelector) => string | undefined
  firmwareClass?: (name: string) => string | undefined
}

export const DIRECTIVES = ['modules', 'compress', 'compress-runtime', 'compress-modules', 'firmware', 'firmware-exclude', 'strict-firmware', 'add', 'cmdline', 'output', 'modprobe-d'] as const
type Directive = (typeof DIRECTIVES)[number]
const LIST_DIRECTIVES: readonly Directive[] = ['modules', 'firmware-exclude', 'add', 'cmdline']

export function emptyImageConfig(): ImageConfig {
  return {
    modules: { reset: false, items: [] },
    firmwareExclude: { reset: false, items: [] },
    add: { reset: false, items: [] },
    cmdline: { reset: false, items: [] },
  }
}

function appendList<T>(base: ListSetting<T>, more: ListSetting<T>): ListSetting<T> {
  return more.reset ? { reset: true, items: [...more.items] } : { reset: base.reset, items: [...base.items, ...more.items] }
}

/** Files in reading order: later single values win, lists accumulate, a reset drops earlier files' entries. */
export function combineImageConfigs(configs: readonly ImageConfig[]): ImageConfig {
  let out = emptyImageConfig()
  for (const c of configs) {
    out = {
      modules: appendList(out.modules, c.modules),
      compress: c.compress ?? out.compress,
      compressRuntime: c.compressRuntime ?? out.compressRuntime,
      compressModules: c.compressModules ?? out.compressModules,
      firmware: c.firmware ?? out.firmware,
      firmwareExclude: appendList(out.firmwareExclude, c.firmwareExclude),
      strictFirmware: c.strictFirmware ?? out.strictFirmware,
      add: appendList(out.add, c.add),
      cmdline: appendList(out.cmdline, c.cmdline),
      output: c.output ?? out.output,
      modprobeD: c.modprobeD ?? out.modprobeD,
    }
  }
  return out
}

/** The effective settings: defaults, then the files, then the flags. Flags replace the files'
 * value, lists included (`--modules` is the whole list), except --add, whose files come after
 * the files' ones (a later entry at the same DEST replaces an earlier one). */
export function mergeImageSettings(file: ImageConfig, flags: ImageFlags = {}, defaults: Readonly<ImageSettings> = IMAGE_DEFAULTS): ImageSettings {
  const list = <T>(l: ListSetting<T>, def: readonly T[]): T[] => (l.reset ? [...l.items] : [...def, ...l.items])
  return {
    modules: flags.modules ? [...flags.modules] : list(file.modules, defaults.modules),
    compress: flags.compress ?? file.compress ?? defaults.compress,
    compressRuntime: flags.compressRuntime ?? file.compressRuntime ?? defaults.compressRuntime,
    compressModules: flags.compressModules ?? file.compressModules ?? defaults.compressModules,
    firmware: flags.firmware ?? file.firmware ?? defaults.firmware,
    firmwareExclude: flags.firmwareExclude ? [...flags.firmwareExclude] : list(file.firmwareExclude, defaults.firmwareExclude),
    strictFirmware: flags.strictFirmware ?? file.strictFirmware ?? defaults.strictFirmware,
    add: [...list(file.add, defaults.add), ...(flags.add ?? [])],
    cmdline: flags.cmdline ? [...flags.cmdline] : list(file.cmdline, defaults.cmdline),
    output: flags.output ?? file.output ?? defaults.output,
    modprobeD: flags.modprobeD ?? file.modprobeD ?? defaults.modprobeD,
  }
}

/** The output template for one kernel: %k the release, %% a '%'. */
export function imageOutput(template: string, kver: string): string {
  return template.replace(/%([k%])/g, (_, c: string) => (c === 'k' ? kver : '%'))
}

// ---- the values, each parsed the same way for a file line and for the tool's flag ----

export type Parsed<T> = { value: T } | { error: string }

const quote = (s: string): string => `"${s}"`
const orList = (xs: readonly string[]): string => (xs.length < 2 ? xs.join('') : `${xs.slice(0, -1).join(', ')} or ${xs[xs.length - 1]}`)

/** Edit distance (with transpositions) for the "did you mean" hints. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  }
  return d[a.length][b.length]
}

/** ' (did you mean "x"?)' for the closest candidate within an edit per three letters (two at
 * most: "bzip2" is not a misspelt "gzip"), else ''. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  let best: string | undefined
  let bestD = Math.max(1, Math.min(2, Math.floor(word.length / 3))) + 1
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c)
    if (d < bestD) [best, bestD] = [c, d]
  }
  return best === undefined ? '' : ` (did you mean ${quote(best)}?)`
}

export function parseCompress(text: string): Parsed<CompressSetting> {
  const colon = text.indexOf(':')
  const kindText = colon >= 0 ? text.slice(0, colon) : text
  const kind = IMAGE_COMPRESSIONS.find((k) => k === kindText)
  if (kind === undefined) return { error: `unknown compression ${quote(kindText)}${didYouMean(kindText, IMAGE_COMPRESSIONS)}: choose ${orList(IMAGE_COMPRESSIONS)}, optionally with :LEVEL` }
  if (colon < 0) return { value: { kind } }
  const range = COMPRESSION_LEVELS[kind]
  const levelText = text.slice(colon + 1)
  if (range === null) return { error: `compression none takes no level (got ${quote(text)})` }
  const level = /^\d+$/.test(levelText) ? Number(levelText) : NaN
  if (!(level >= range[0] && level <= range[1])) return { error: `${kind} level must be a whole number from ${range[0]} to ${range[1]} (got ${quote(levelText)})` }
  return { value: { kind, level } }
}

/** compress-runtime's value (and --compress-runtime's): a kind without a level, or `same`. */
export function parseRuntimeCompression(text: string): Parsed<RuntimeCompression> {
  if (text === 'same') return { value: 'same' }
  const p = parseCompress(text)
  if ('error' in p) return { error: `${p.error}, or same (the main archive)` }
  if (p.value.level !== undefined) return { error: `${quote(text)}: the runtime's archive takes no level (it is compressed at ${p.value.kind}'s default); write ${p.value.kind}` }
  return { value: p.value.kind }
}

/** compress-modules' value (and --compress-modules'). */
export function parseModuleFiles(text: string): Parsed<ModuleFiles> {
  const v = MODULE_FILES.find((m) => m === text)
  return v === undefined ? { error: `${quote(text)}${didYouMean(text, MODULE_FILES)}: expected ${orList(MODULE_FILES)}` } : { value: v }
}

const BAD_NAME_CHARS = /["'\\$`=#]/

/** One word of `modules` (or of the tool's --modules list). */
export function parseModuleSelector(word: string, at: string): Parsed<ModuleSelector> {
  let rest = word
  const remove = rest.startsWith('-')
  if (remove) rest = rest.slice(1)
  const optional = rest.startsWith('?')
  if (optional) rest = rest.slice(1)
  if (remove && optional) return { error: `selector ${quote(word)}: use either -NAME (take out) or ?NAME (may be absent), not both` }
  if (rest.startsWith('-') || rest.startsWith('?')) return { error: `selector ${quote(word)}: one '-' or '?' prefix at most` }
  if (rest === '') return { error: `selector ${quote(word)} names nothing: write -NAME or ?NAME with a module, alias, class or glob` }
  if (rest.includes(',')) return { error: `selector ${quote(word)}: separate selectors with spaces, not commas` }
  if (BAD_NAME_CHARS.test(rest)) return { error: `selector ${quote(word)}: a module, alias, class or glob cannot contain quotes, '\\', '$', '\`', '=' or '#'` }
  if (rest === 'host' || rest === 'host-all' || rest === 'cpu' || rest === 'all') {
    if (optional) return { error: `selector ${quote(word)}: ${rest} always selects something; '?' is for names and globs` }
    return { value: { kind: rest, value: rest, remove, optional, at } }
  }
  const kind: SelectorKind = rest.includes('/') || rest.includes('*') ? 'glob' : 'word'
  return { value: { kind, value: rest, remove, optional, at } }
}

/** SRC[:DEST], both absolute; DEST defaults to SRC. A ':' counts as the separator only when
 * an absolute path follows it. */
export function parseAddFile(text: string, at: string): Parsed<AddFile> {
  const i = text.lastIndexOf(':')
  const [src, dest] = i > 0 && text[i + 1] === '/' ? [text.slice(0, i), text.slice(i + 1)] : [text, text]
  if (!src.startsWith('/')) return { error: `add ${text}: SRC must be an absolute path (SRC[:DEST])` }
  if (!dest.startsWith('/')) return { error: `add ${text}: DEST must be an absolute path (SRC[:DEST])` }
  return { value: { src, dest, at } }
}

export function parseOutput(text: string): Parsed<string> {
  if (!text.startsWith('/')) return { error: `output ${text}: must be an absolute path` }
  let hasKver = false
  for (let i = text.indexOf('%'); i >= 0; i = text.indexOf('%', i + 2)) {
    const next = text[i + 1]
    if (next === 'k') hasKver = true
    else if (next !== '%') return { error: `output ${text}: unknown ${quote(text.slice(i, i + 2))}: %k is the kernel release, %% a '%'` }
  }
  if (!hasKver) {
    return { error: `output ${text}: must contain %k (the kernel release): the hooks write one image per kernel and delete it with its kernel` }
  }
  return { value: text }
}

/** Kernel command-line words, quoted as the kernel reads them. */
export function parseCmdlineWords(text: string): Parsed<string[]> {
  if ((text.match(/"/g) ?? []).length % 2 === 1) return { error: `cmdline: unbalanced '"'` }
  const words = splitCmdline(text)
  if (words.includes('--')) return { error: `cmdline: "--" is not allowed: arguments for init belong on the boot loader's command line` }
  return { value: words }
}

const YES_NO: Record<string, boolean> = { yes: true, no: false }

function parseYesNo(directive: string, word: string): Parsed<boolean> {
  const v = YES_NO[word]
  return v === undefined ? { error: `${directive} ${word}: expected yes or no` } : { value: v }
}

const FIRMWARE_CLASS = /^[a-z0-9][a-z0-9-]*$/

// ---- defaults (after the value parsers they use) ----

/** The word a selector was written as ("-floppy", "?zfs"), for select.ts's parseSelectors. */
export function selectorText(s: ModuleSelector): string {
  return `${s.remove ? '-' : ''}${s.optional ? '?' : ''}${s.value}`
}

function defaultSelectors(): ModuleSelector[] {
  return DEFAULT_SELECTORS.map((w) => {
    const p = parseModuleSelector(w, 'default')
    if ('error' in p) throw new Error(`classes.ts DEFAULT_SELECTORS: ${p.error}`)
    return p.value
  })
}

export const IMAGE_DEFAULTS: Readonly<ImageSettings> = Object.freeze({
  modules: defaultSelectors(),
  compress: { kind: 'zstd' },
  firmware: true,
  firmwareExclude: [],
  strictFirmware: false,
  add: [],
  cmdline: [],
  output: '/boot/initrd.img-%k',
  modprobeD: true,
} satisfies ImageSettings)

// ---- lines ----

/** Logical lines: a '\' right before a newline joins the lines; each keeps its first line's number. */
function logicalLines(text: string): { text: string; line: number; trailingBackslash: boolean }[] {
  const physical = text.split('\n')
  if (physical[physical.length - 1] === '') physical.pop()
  const out: { text: string; line: number; trailingBackslash: boolean }[] = []
  let cur: { text: string; line: number; trailingBackslash: boolean } | null = null
  for (let i = 0; i < physical.length; i++) {
    const l = physical[i].endsWith('\r') ? physical[i].slice(0, -1) : physical[i]
    const joins = l.endsWith('\\')
    cur ??= { text: '', line: i + 1, trailingBackslash: false }
    cur.text += joins ? l.slice(0, -1) : l
    if (joins) continue
    // a '\' followed only by blanks looks like a continuation and is not one
    cur.trailingBackslash = /\\[ \t]+$/.test(l)
    out.push(cur)
    cur = null
  }
  if (cur !== null) out.push(cur)
  return out
}

export interface ParseImageConfigOptions {
  validate?: ImageConfigValidation
}

/** Parse one file. Lines are applied in order, as files are: combineImageConfigs semantics. */
export function parseImageConfig(text: string, file: string, opts: ParseImageConfigOptions = {}): { config: ImageConfig; errors: ImageConfigError[] } {
  const errors: ImageConfigError[] = []
  const layers: ImageConfig[] = []
  for (const { text: lineText, line, trailingBackslash } of logicalLines(text)) {
    const fail = (message: string): void => void errors.push({ file, line, message })
    const trimmed = lineText.trim()
    if (trimmed === '' || trimmed.startsWith('#')) continue
    if (trailingBackslash) {
      fail(`blanks after the '\\' at the end of the line: a continuation '\\' must be the line's last character`)
      continue
    }
    const words = trimmed.split(/[ \t]+/)
    const name = words[0]
    const directive = DIRECTIVES.find((d) => d === name)
    if (directive === undefined) {
      const eq = name.indexOf('=')
      const head = eq > 0 ? name.slice(0, eq) : name
      if (eq > 0 && DIRECTIVES.some((d) => d === head)) fail(`${quote(name)}: write "${head} ${name.slice(eq + 1)}" (a space between directive and value; "${head} = ..." replaces earlier values)`)
      else fail(`unknown directive ${quote(name)}${didYouMean(head, DIRECTIVES)}; directives: ${DIRECTIVES.join(', ')}`)
      continue
    }
    let args = words.slice(1)
    const reset = args[0] === '='
    if (reset) args = args.slice(1)
    if (reset && !LIST_DIRECTIVES.includes(directive) && args.length === 0) {
      fail(`${directive} = needs a value`)
      continue
    }
    const commentAt = args.findIndex((w) => w.startsWith('#'))
    if (commentAt >= 0) {
      fail(`${quote(args[commentAt])}: comments must be on a line of their own`)
      continue
    }
    const layer = emptyImageConfig()
    const at = `${file}:${line}`
    const one = (what: string): string | undefined => {
      if (args.length === 1) return args[0]
      fail(args.length === 0 ? `${directive} needs a value: ${what}` : `${directive} takes one value (${what}), got ${args.length}: ${args.join(' ')}`)
      return undefined
    }
    const take = <T>(p: Parsed<T>, set: (v: T) => void): void => {
      if ('error' in p) fail(p.error)
      else set(p.value)
    }
    switch (directive) {
      case 'modules': {
        if (args.length === 0 && !reset) {
          fail(`modules needs at least one selector: host, host-all, cpu, all, a class, a module name or alias, a glob, -SELECTOR or ?SELECTOR`)
          break
        }
        layer.modules.reset = reset
        for (const w of args) {
          take(parseModuleSelector(w, at), (s) => {
            const problem = opts.validate?.selector?.(s)
            if (problem) fail(problem)
            else layer.modules.items.push(s)
          })
        }
        break
      }
      case 'compress': {
        const w = one(`${orList(IMAGE_COMPRESSIONS)}[:LEVEL]`)
        if (w !== undefined) take(parseCompress(w), (v) => (layer.compress = v))
        break
      }
      case 'compress-runtime': {
        const w = one(orList([...IMAGE_COMPRESSIONS, 'same']))
        if (w !== undefined) take(parseRuntimeCompression(w), (v) => (layer.compressRuntime = v))
        break
      }
      case 'compress-modules': {
        const w = one(orList(MODULE_FILES))
        if (w !== undefined) take(parseModuleFiles(w), (v) => (layer.compressModules = v))
        break
      }
      case 'firmware':
      case 'strict-firmware':
      case 'modprobe-d': {
        const w = one('yes or no')
        if (w === undefined) break
        take(parseYesNo(directive, w), (v) => {
          if (directive === 'firmware') layer.firmware = v
          else if (directive === 'strict-firmware') layer.strictFirmware = v
          else layer.modprobeD = v
        })
        break
      }
      case 'firmware-exclude': {
        if (args.length === 0 && !reset) {
          fail('firmware-exclude needs at least one class')
          break
        }
        layer.firmwareExclude.reset = reset
        for (const w of args) {
          const problem = !FIRMWARE_CLASS.test(w) ? `firmware-exclude ${w}: a class name is lower-case letters, digits and '-'` : opts.validate?.firmwareClass?.(w)
          if (problem) fail(problem)
          else layer.firmwareExclude.items.push(w)
        }
        break
      }
      case 'add': {
        if (args.length === 0 && !reset) {
          fail('add needs a file: SRC[:DEST]')
          break
        }
        layer.add.reset = reset
        for (const w of args) take(parseAddFile(w, at), (a) => layer.add.items.push(a))
        break
      }
      case 'cmdline': {
        if (args.length === 0 && !reset) {
          fail('cmdline needs words (or "cmdline =" to drop earlier ones)')
          break
        }
        layer.cmdline.reset = reset
        // the words as written, quotes included: the kernel's rules, not ours, split them
        const rest = trimmed.slice(name.length).replace(/^[ \t]+/, '')
        take(parseCmdlineWords(reset ? rest.replace(/^=[ \t]*/, '') : rest), (ws) => layer.cmdline.items.push(...ws))
        break
      }
      case 'output': {
        const w = one('an absolute path with %k')
        if (w !== undefined) take(parseOutput(w), (v) => (layer.output = v))
        break
      }
    }
    layers.push(layer)
  }
  return { config: combineImageConfigs(layers), errors }
}

/** Several files in reading order, as one configuration. */
export function parseImageConfigFiles(
  files: readonly { path: string; text: string }[],
  opts: ParseImageConfigOptions = {},
): { config: ImageConfig; errors: ImageConfigError[] } {
  const parsed = files.map((f) => parseImageConfig(f.text, f.path, opts))
  return { config: combineImageConfigs(parsed.map((p) => p.config)), errors: parsed.flatMap((p) => p.errors) }
}

/** The configuration file `modload install-hooks` writes when there is none: every directive,
 * commented out, at its default. */
export function defaultConfigText(d: Readonly<ImageSettings> = IMAGE_DEFAULTS): string {
  const yn = (b: boolean): string => (b ? 'yes' : 'no')
  const compress = d.compress.level === undefined ? d.compress.kind : `${d.compress.kind}:${d.compress.level}`
  return `# modload mkinitramfs configuration. Read by \`modload mkinitramfs\` and the kernel hooks
# (/etc/kernel/postinst.d/zz-modload), then /etc/modload/mkinitramfs.conf.d/*.conf in name
# order; the tool's flags win over both. One directive per line; '#' starts a comment line;
# a '\\' at the end of a line continues it. A mistake is an error naming the line: no image
# is built from a configuration that does not say what was meant.
#
# Lists (modules, firmware-exclude, add, cmdline) accumulate over lines and files;
# "DIRECTIVE = ..." replaces what came before, the default included. The commented-out
# lines below are the defaults, or examples where the default is nothing.

# Which modules: host (what this machine needs to boot; processor features, sound, Wi-Fi,
# watchdogs and sensors are left to the root's loader), host-all (host, leaving nothing),
# cpu (processor features only), all, a class (${CLASS_NAMES.join(', ')}),
# a module name or alias, a glob of module paths (kernel/drivers/ata/*), -SELECTOR to take
# out, ?NAME for one that may be missing.
#modules = ${d.modules.map(selectorText).join(' ')}

# gzip, zstd, lz4, xz or none, with an optional :LEVEL
#compress ${compress}

# The executable and its libraries in an archive of their own, compressed KIND (the kernel
# unpacks one archive after the other), or same (in the main archive). Unset: lz4 when the
# kernel can unpack it and compress is tighter. none is the cheapest under emulation (a VM's
# image is read from the host's page cache), zstd on slow boot media.
#compress-runtime lz4

# each: every module outside the root's chain compressed on its own, decompressed by init
# only when it loads it (the kernel copies them at boot instead of decompressing them);
# archive: the modules as the tree has them, in the main archive. Unset: each, archive with
# compress none.
#compress-modules each

# The firmware the modules declare; strict: a missing file is an error.
#firmware ${yn(d.firmware)}
#firmware-exclude CLASS...
#strict-firmware ${yn(d.strictFirmware)}

# The host's modprobe.d and modules-load.d (options, blacklists, modules to load).
#modprobe-d ${yn(d.modprobeD)}

# Extra files: SRC[:DEST].
#add /etc/example.conf

# A default kernel command line; the boot loader's words win for the same key.
#cmdline ${d.cmdline.length ? d.cmdline.join(' ') : 'root=UUID=... quiet'}

# Where the kernel hooks write the image; %k is the kernel release. initramfs-tools and
# dracut write /boot/initrd.img-%k too: see /etc/kernel/postinst.d/zz-modload.
#output ${d.output}
`
}
