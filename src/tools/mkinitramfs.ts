// `modload mkinitramfs`: build an initramfs with modload as /init, or (--list, --json) say what
// would go in and why. Arguments and the config file become options; the core decides
// (src/initramfs/mkinitramfs.ts, src/image/select.ts); this file formats.
import { parseArgs } from 'node:util'
import { kernelRelease } from '../sys/release.js'
import { loadImageConfig } from '../image/config-fs.js'
import { imageOutput, mergeImageSettings, parseAddFile, parseCmdlineWords, parseCompress, parseModuleFiles, parseModuleSelector, parseRuntimeCompression, selectorText, type ImageFlags, type Parsed } from '../image/config.js'
import { defaultRuntimeCompression, mkinitramfs, plan, checkCompression, readKernelConfig, PARTS, type Plan, type MkInitramfsOptions } from '../initramfs/mkinitramfs.js'
import { MkInitramfsError } from '../initramfs/errors.js'
import { sourceDateEpoch } from '../initramfs/output.js'
import { describeReason, describeReasons, parseSelectors, SelectorError, type Selector } from '../image/select.js'
import { CLASS_NAMES, DEFAULT_SELECTORS, LATE_CLASSES } from '../image/classes.js'
import { readHostFacts } from '../image/host.js'
import { UsageError, type Tool } from './io.js'

const USAGE = `usage: modload mkinitramfs [-o OUT] [-k KVER] [--kernel-root ROOT] [-m SELECTORS]... [options]
       modload mkinitramfs --list|--json [-k KVER] [-m SELECTORS]...

  -o, --output FILE       the image to write (through a temporary file, renamed when complete;
                          default: the config's output, /boot/initrd.img-KVER)
  -k, --kver KVER         kernel release (default: the running kernel's)
  --kernel-root ROOT      directory holding lib/modules/KVER, boot/config-KVER, lib/firmware (default /)
  -m, --modules SELECTORS what goes in, comma or space separated, in order (default: ${DEFAULT_SELECTORS.join(',')}):
        host              the modules this machine needs: its devices' modaliases resolved
                          against KVER's indexes, loaded modules, the root's drivers and filesystem;
                          not what no boot waits for (left to the root's own loader): processor
                          features, ${Object.keys(LATE_CLASSES).join(', ')}
        host-all          everything the machine's devices match, nothing left to the root
        cpu               the processor-feature modules: what the CPUs' modaliases match (crypto
                          and checksum accelerators, kvm, cpufreq, EDAC), for a root that loads nothing
        all               every module of the tree
        CLASS             ${CLASS_NAMES.join(', ')}
        NAME              a module name or alias;  ?NAME: optional (no error when absent)
        PATTERN           a module path pattern, e.g. drivers/net/ethernet/intel/ or 'fs/*fat*'
        -X                remove X (a name, class or pattern), whatever added it
      Dependencies and softdeps are always added; every alias of every module is kept.
  --sysfs DIR             read the machine from DIR instead of /sys (a copy, or 'modload scan --save')
  --rootfs TYPE[,TYPE]    the root's filesystem, when the machine cannot say (a capture made
                          without a mounted root); without either, the whole fs class goes in
  --compress KIND[:N]     zstd (default, level 9), gzip (6), lz4 (1), xz (6) or none
  --compress-runtime KIND the executable and its libraries in an archive of their own,
                          compressed KIND (the kernel unpacks one archive after the other);
                          default lz4 when the kernel's config has CONFIG_RD_LZ4=y and
                          --compress is tighter ('same': one archive)
  --compress-modules each|archive
                          each (default, unless --compress none): every module but the root's
                          chain compressed on its own (zstd) in an uncompressed archive of its
                          own: the kernel copies it at boot, modload decompresses only what it
                          loads; the chain stays uncompressed with the indexes. archive: the
                          modules as the tree has them, in the --compress archive
  --init FILE             program to install as /init (default: this executable)
  --add SRC[:DEST]        add a file to the image (replaces an entry at DEST; DEST defaults to SRC)
  --cmdline WORDS         default kernel command line words for init (the real command line wins)
  --no-modprobe-d         leave the host's modprobe.d and modules-load.d out
  --no-firmware           no firmware at all
  --strict-firmware       firmware a module declares but is missing is an error (else a warning)
  --firmware-exclude CLASS  leave out the firmware of this class's modules (repeatable)
  --firmware-path DIR     the target's firmware_class.path, searched first
  --config FILE           read FILE instead of /etc/modload/mkinitramfs.conf and its .d/
  --no-config             read no config file
  --list                  print each module with its size and why it is in; write nothing
  --json                  the same as JSON, for scripts
Flags override the config file (/etc/modload/mkinitramfs.conf, then mkinitramfs.conf.d/*.conf).
Entries are sorted and stamped with SOURCE_DATE_EPOCH (else 0): same inputs, same bytes.`

/** A flag's value through the config file's own parser, so both accept the same words. */
function flag<T>(name: string, r: Parsed<T>): T {
  if ('error' in r) throw new UsageError(`--${name}: ${r.error}`)
  return r.value
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}

/** --list: one module a line, its size and why it is in. */
export function formatList(p: Plan): string {
  const rows = p.selection.modules.map((m) => [m.name, formatSize(p.moduleBytes.get(m.name) ?? 0), describeReasons(m.reasons)])
  const w0 = Math.max(6, ...rows.map((r) => r[0].length))
  const w1 = Math.max(4, ...rows.map((r) => r[1].length))
  const lines = [`${'MODULE'.padEnd(w0)}  ${'SIZE'.padStart(w1)}  WHY`, ...rows.map((r) => `${r[0].padEnd(w0)}  ${r[1].padStart(w1)}  ${r[2]}`)]
  for (const b of p.selection.builtin) lines.push(`${b.name.padEnd(w0)}  ${'-'.padStart(w1)}  built in (not copied): ${describeReasons(b.reasons)}`)
  if (p.selection.leftToRoot.length) lines.push('', `left to the root's loader (processor features, ${Object.keys(LATE_CLASSES).join(', ')}; host-all takes them, cpu the processor features): ${p.selection.leftToRoot.join(' ')}`)
  lines.push('', formatSummary(p))
  return lines.join('\n') + '\n'
}

/** The image's uncompressed size by part. */
export function formatSummary(p: Plan, written?: { output: string; bytes: number; compress: string; seconds: number }): string {
  const count: Record<string, number> = {}
  for (const f of p.files) count[f.part] = (count[f.part] ?? 0) + 1
  const total = PARTS.reduce((s, k) => s + p.sizes[k], 0)
  const head = written
    ? `${written.output}: ${formatSize(written.bytes)} (${written.compress}) from ${formatSize(total)}, ${p.selection.modules.length} modules, built in ${written.seconds.toFixed(1)} s`
    : `${p.selection.modules.length} modules, ${formatSize(total)} before compression`
  const parts = PARTS.map((k) => `  ${k.padEnd(9)} ${formatSize(p.sizes[k]).padStart(10)}  ${count[k] ?? 0} files`)
  return [head, ...parts].join('\n')
}

/** At most this many of a module's missing firmware names are printed (amdgpu declares ~700). */
const FIRMWARE_NAMES_SHOWN = 8

/** Missing firmware, once, one module a line (a module may have several names; a long list is
 * cut, with the command that prints it whole). */
export function formatMissingFirmware(p: Pick<Plan, 'missingFirmware'>): string {
  const n = p.missingFirmware.length
  const lines = [`${n} module${n === 1 ? '' : 's'} declare firmware that is not installed (looked in /lib/firmware and its updates/ and KVER directories; --strict-firmware makes this an error):`]
  for (const m of p.missingFirmware) {
    const more = m.names.length - FIRMWARE_NAMES_SHOWN
    const names = more > 1 ? `${m.names.slice(0, FIRMWARE_NAMES_SHOWN).join(' ')} and ${more} more (modload modinfo -F firmware ${m.module}, or --json)` : m.names.join(' ')
    lines.push(`  ${m.module}: ${names}`)
  }
  return lines.map((l, i) => (i === 0 ? `mkinitramfs: warning: ${l}` : l)).join('\n') + '\n'
}

export function planJson(p: Plan): object {
  return {
    modules: p.selection.modules.map((m) => ({
      name: m.name,
      path: m.path,
      bytes: p.moduleBytes.get(m.name) ?? 0,
      reasons: m.reasons.map((r) => ({ ...r, text: describeReason(r) })),
    })),
    builtin: p.selection.builtin.map((b) => ({ name: b.name, reasons: b.reasons.map(describeReason) })),
    sizes: p.sizes,
    configFiles: p.configFiles,
    firmware: p.firmware.map((f) => ({ path: f.dest, modules: f.modules, ...(f.symlink !== undefined ? { symlink: f.symlink } : {}) })),
    missingFirmware: p.missingFirmware,
    warnings: p.selection.warnings,
    leftToRoot: p.selection.leftToRoot,
  }
}

export const mkinitramfsTool: Tool = {
  name: 'mkinitramfs',
  summary: 'build an initramfs with modload as /init (host-only by default)',
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: {
        output: { type: 'string', short: 'o' },
        'kernel-root': { type: 'string' },
        kver: { type: 'string', short: 'k' },
        modules: { type: 'string', short: 'm', multiple: true },
        sysfs: { type: 'string' },
        rootfs: { type: 'string' },
        compress: { type: 'string' },
        'compress-runtime': { type: 'string' },
        'compress-modules': { type: 'string' },
        init: { type: 'string' },
        add: { type: 'string', multiple: true },
        cmdline: { type: 'string' },
        'no-modprobe-d': { type: 'boolean' },
        config: { type: 'string' },
        'no-config': { type: 'boolean' },
        'no-firmware': { type: 'boolean' },
        'strict-firmware': { type: 'boolean' },
        'firmware-exclude': { type: 'string', multiple: true },
        'firmware-path': { type: 'string' },
        list: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    })
    if (values.help) {
      io.out(USAGE + '\n')
      return 0
    }
    const dryRun = values.list || values.json
    // the config files, then the flags given (each replaces what the files say)
    const { config } = loadImageConfig({ path: values.config, noConfig: values['no-config'] })
    const given: ImageFlags = {}
    if (values.modules?.length) given.modules = values.modules.flatMap((m) => m.split(/[\s,]+/)).filter((w) => w.length > 0).map((w) => flag('modules', parseModuleSelector(w, '--modules')))
    if (values.compress !== undefined) given.compress = flag('compress', parseCompress(values.compress))
    if (values['compress-runtime'] !== undefined) given.compressRuntime = flag('compress-runtime', parseRuntimeCompression(values['compress-runtime']))
    if (values['compress-modules'] !== undefined) given.compressModules = flag('compress-modules', parseModuleFiles(values['compress-modules']))
    if (values['no-firmware']) given.firmware = false
    if (values['strict-firmware']) given.strictFirmware = true
    if (values['firmware-exclude']) given.firmwareExclude = values['firmware-exclude'].flatMap((c) => c.split(',')).filter((c) => c.length > 0)
    if (values.add) given.add = values.add.map((a) => flag('add', parseAddFile(a, '--add')))
    if (values.cmdline !== undefined) given.cmdline = flag('cmdline', parseCmdlineWords(values.cmdline))
    if (values['no-modprobe-d']) given.modprobeD = false
    const settings = mergeImageSettings(config, given)
    let selectors: Selector[]
    try {
      selectors = parseSelectors(settings.modules.map(selectorText))
    } catch (err) {
      if (err instanceof SelectorError) throw new UsageError(`--modules: ${err.message}`)
      throw err
    }
    const kernelRoot = values['kernel-root'] ?? '/'
    const kver = values.kver ?? kernelRelease()
    const output = values.output ?? imageOutput(settings.output, kver)
    const compress = settings.compress.kind
    const opts: MkInitramfsOptions = {
      output,
      init: values.init ?? process.execPath,
      kernelRoot,
      kver,
      selectors,
      host: selectors.some((s) => s.kind === 'host' || s.kind === 'host-all' || s.kind === 'cpu') ? readHostFacts({ sysfs: values.sysfs }) : undefined,
      rootFs: values.rootfs?.split(',').filter((f) => f.length > 0),
      compress,
      level: settings.compress.level,
      compressRuntime:
        settings.compressRuntime === 'same'
          ? undefined
          : (settings.compressRuntime ?? defaultRuntimeCompression(compress, readKernelConfig(kernelRoot, kver))),
      moduleFiles: settings.compressModules,
      add: settings.add.map((a) => ({ src: a.src, dest: a.dest })),
      mtime: sourceDateEpoch(process.env),
      configRoot: settings.modprobeD ? '/' : null,
      cmdline: settings.cmdline,
      firmware: {
        enabled: settings.firmware,
        strict: settings.strictFirmware,
        excludeClasses: settings.firmwareExclude,
        extraPath: values['firmware-path'],
      },
    }
    const warn = (p: Plan): void => {
      for (const w of p.selection.warnings) io.err(`${io.prog}: warning: ${w}\n`)
      if (p.missingFirmware.length) io.err(formatMissingFirmware(p))
    }
    if (dryRun) {
      checkCompression(compress, readKernelConfig(kernelRoot, kver))
      const p = await plan(opts)
      warn(p)
      io.out(values.json ? JSON.stringify(planJson(p), null, 2) + '\n' : formatList(p))
      return 0
    }
    const started = Date.now()
    const r = await mkinitramfs(opts)
    warn(r)
    const how = [compress, ...(opts.compressRuntime ? [`runtime ${opts.compressRuntime}`] : []), ...(r.separate.size ? [`${r.separate.size} modules each compressed`] : [])].join(', ')
    io.err(formatSummary(r, { output, bytes: r.bytes, compress: how, seconds: (Date.now() - started) / 1000 }) + '\n')
    return 0
  },
}

export { MkInitramfsError }
