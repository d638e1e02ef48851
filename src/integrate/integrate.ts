// modload inside the initramfs builders Debian users already run: which files
// `modload integrate initramfs-tools|dracut` puts where, and installing or removing them under
// a root directory. The files themselves are the shell scripts of initramfs/integrate/ (see
// the headers there for how each works in the image), embedded in the executable through
// scripts.ts; `@MODLOAD@` in them becomes the path of the executable they were installed for.
//
//   initramfs-tools  /etc/initramfs-tools/hooks/modload (the hook: adds the executable and
//                    modload's selection, and puts modload's boot scripts in place of udev's;
//                    the boot scripts come from the executable, `--boot-script`), and
//                    /etc/initramfs-tools/conf.d/modload (settings)
//   dracut           /usr/lib/dracut/modules.d/90modload/{module-setup.sh,modload-coldplug.sh,modload-stop.sh,
//                    modload-stop.service}
//                    (dracut reads modules only from there) and /etc/dracut.conf.d/90-modload.conf
//                    (adds the module to every image; settings)
//
// Every file carries MARK: --remove deletes only files that do, and reports the others. A
// settings file that exists and is not ours is kept on install.
import { existsSync, readdirSync, rmdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { shellQuote } from '../image/kernel-hooks.js'
import { parentDirs, type CpioEntry } from '../initramfs/cpio.js'
import { removeOwned, under, writeWithMode, type FileAction } from '../image/owned-files.js'
import { SCRIPTS, type ScriptName } from './scripts.js'

export const BUILDERS = ['initramfs-tools', 'dracut'] as const
export type Builder = (typeof BUILDERS)[number]

/** Every installed file holds this text (the scripts' headers say it). */
export const MARK = 'modload integrate'

export interface IntegrationFile {
  /** absolute path on the target system */
  path: string
  source: ScriptName
  mode: number
  /** settings the user may edit: an existing file that is not ours is kept */
  settings: boolean
}

export const FILES: Readonly<Record<Builder, readonly IntegrationFile[]>> = {
  'initramfs-tools': [
    { path: '/etc/initramfs-tools/hooks/modload', source: 'initramfs-tools/hook', mode: 0o755, settings: false },
    { path: '/etc/initramfs-tools/conf.d/modload', source: 'initramfs-tools/conf', mode: 0o644, settings: true },
  ],
  dracut: [
    { path: '/usr/lib/dracut/modules.d/90modload/module-setup.sh', source: 'dracut/90modload/module-setup.sh', mode: 0o755, settings: false },
    { path: '/usr/lib/dracut/modules.d/90modload/modload-coldplug.sh', source: 'dracut/90modload/modload-coldplug.sh', mode: 0o755, settings: false },
    { path: '/usr/lib/dracut/modules.d/90modload/modload-stop.sh', source: 'dracut/90modload/modload-stop.sh', mode: 0o755, settings: false },
    { path: '/usr/lib/dracut/modules.d/90modload/modload-stop.service', source: 'dracut/90modload/modload-stop.service', mode: 0o644, settings: false },
    { path: '/etc/dracut.conf.d/90-modload.conf', source: 'dracut/90-modload.conf', mode: 0o644, settings: true },
  ],
}

/** What to run once the files are in place (or gone), so the next image follows. */
export const NEXT_STEP: Readonly<Record<Builder, string>> = {
  'initramfs-tools': 'update-initramfs -u',
  dracut: 'dracut -f',
}

/** The boot scripts the initramfs-tools hook asks the executable for (udevadm: the stand-in
 * for udevadm that answers `settle` itself while no udevd runs). */
export const BOOT_SCRIPTS = ['init-top', 'init-bottom', 'udevadm'] as const
export type BootScript = (typeof BOOT_SCRIPTS)[number]

export function bootScript(which: BootScript): string {
  return SCRIPTS[`initramfs-tools/${which}`]
}

/** A file's text for the executable at `modload`. Pure. */
export function fileText(f: IntegrationFile, modload: string): string {
  return SCRIPTS[f.source].replaceAll('@MODLOAD@', shellQuote(modload))
}

export function isBuilder(s: string): s is Builder {
  return (BUILDERS as readonly string[]).includes(s)
}

export type IntegrateAction = FileAction

export interface IntegrateOptions {
  builder: Builder
  /** the system to install into; default '/' */
  root?: string
  /** the executable the scripts run (installing only) */
  modload?: string
}

/** Put the builder's files in place under the root. */
export function installIntegration(opts: IntegrateOptions & { modload: string }): IntegrateAction[] {
  const root = opts.root ?? '/'
  return FILES[opts.builder].map((f): IntegrateAction => {
    const at = under(root, f.path)
    const have = existsSync(at)
    // settings stay as they are, ours (perhaps edited) or not
    if (f.settings && have) return { kind: 'kept', path: f.path }
    writeWithMode(at, fileText(f, opts.modload), f.mode)
    return { kind: 'wrote', path: f.path, replaced: have }
  })
}

/** Delete the builder's files (those that carry MARK) under the root, and the dracut module's
 * directory once empty. */
export function removeIntegration(opts: IntegrateOptions): IntegrateAction[] {
  const root = opts.root ?? '/'
  const actions = FILES[opts.builder].map((f) => removeOwned(under(root, f.path), MARK, f.path))
  for (const dir of new Set(FILES[opts.builder].map((f) => dirname(under(root, f.path))))) {
    if (dir.endsWith('/90modload') && existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir)
  }
  return actions
}

/** The selection as the scripts read it: `sighash HASH NAME` for the CPU's implementation of
 * the module signature hash (both write /etc/modload/signature-hash: init loads it first
 * without looking it up), `module NAME` lines, `root NAME` for the modules of
 * the root's chain (its disk's drivers and file system, as the build host mounts it:
 * initramfs-tools' hook writes them to /etc/modload/root-modules, loaded first), `rootdev NAME`
 * for the part of that chain that makes the root's disk appear (its drivers, not the file
 * system: dracut's module writes these, dracut mounts the root itself) and `firmware PATH`
 * lines (PATH under /lib/firmware), from `modload mkinitramfs --json`'s output. Pure. */
export function selectionLines(json: { modules: Array<{ name: string; reasons?: Array<{ kind: string; what?: string; hash?: string }> }>; firmware: Array<{ path: string }> }): string {
  const lines = json.modules.map((m) => `module ${m.name}`)
  for (const m of json.modules) if (m.reasons?.some((r) => r.kind === 'root')) lines.push(`root ${m.name}`)
  for (const m of json.modules) if (m.reasons?.some((r) => r.kind === 'root' && r.what?.startsWith('device'))) lines.push(`rootdev ${m.name}`)
  for (const m of json.modules) {
    const hash = m.reasons?.find((r) => r.kind === 'signature-hash')?.hash
    if (hash) lines.push(`sighash ${hash} ${m.name}`)
  }
  for (const f of json.firmware) {
    const rel = f.path.replace(/^\/+/, '').replace(/^(usr\/)?lib\/firmware\//, '')
    if (rel && rel !== f.path.replace(/^\/+/, '')) lines.push(`firmware ${rel}`)
  }
  return lines.length ? lines.join('\n') + '\n' : ''
}

/** Where the image's executable lives (the boot scripts run it from there). */
export const IMAGE_MODLOAD = '/usr/sbin/modload'

/**
 * The early archive of MODLOAD_RUNTIME=early (initramfs-tools): the executable alone, in an
 * uncompressed newc archive that the hook prepends to the image (prepend_earlyinitramfs, as
 * CPU microcode is). The kernel copies it instead of decompressing it with the rest, and
 * lsinitramfs/unmkinitramfs still read the image: they list uncompressed archives in front
 * of the compressed one. Its libraries stay in the main archive.
 */
export function runtimeArchive(executable: Uint8Array): CpioEntry[] {
  return [...parentDirs(IMAGE_MODLOAD).map((path): CpioEntry => ({ type: 'dir', path })), { type: 'file', path: IMAGE_MODLOAD, mode: 0o755, data: () => executable }]
}
