// The images of the integration test and benchmark (issue 12): each builder's stock image and
// the same builder's image with modload's integration installed, both made by the builder's
// own tool through initramfs/peers.ts (private configuration, cached kernel tree, cached under
// .cache/peers by a digest of every input, the executable the hook copies included).
//
// The integration's files are put in place by the same code as `modload integrate --root`
// (src/integrate/integrate.ts), into a staging root, and handed to the tool from there: the
// initramfs-tools hook and settings into its private `-d` configuration directory, the dracut
// module beside dracut's own (a `dracutbasedir` of links) and its settings into the private
// dracut.conf.d. The host's /etc and /usr/lib/dracut are never written.
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { executable } from '../../qemu/artefacts.js'
import { run } from '../../qemu/exec.js'
import type { Kernel } from '../../qemu/kernels.js'
import { cacheDir } from '../../qemu/paths.js'
import { FILES, IMAGE_MODLOAD, installIntegration, type Builder } from '../../src/integrate/integrate.js'
import { writeOverlay } from '../overlay.js'
import { ensurePeerImage, type PeerImage, type PeerKind, type PeerVariant } from '../peers.js'

/** The peer image each builder's integration is compared with: the builder's generic image
 * (the host-only ones describe the build host). */
export const stockKind: Readonly<Record<Builder, PeerKind>> = {
  'initramfs-tools': 'initramfs-tools-most',
  dracut: 'dracut-generic',
}

/** Where each installed file goes in the tool's private configuration (relative to it); the
 * dracut module's own files go into a module directory instead (undefined here). */
function confPath(builder: Builder, file: string): string | undefined {
  if (builder === 'initramfs-tools') return path.relative('/etc/initramfs-tools', file)
  if (file.startsWith('/etc/dracut.conf.d/')) return path.join('dracut.conf.d', path.basename(file))
  return undefined
}

async function fileDigest(file: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer)
  return h.digest('hex')
}

/** The peer variant holding modload's integration for `builder`, made for `modload` (default
 * dist/modload, which the caller has built). Its dracut module directory lives under `stage`. */
export async function integrationVariant(builder: Builder, stage: string, modload = executable): Promise<PeerVariant> {
  await fs.rm(stage, { recursive: true, force: true })
  installIntegration({ builder, root: stage, modload })
  const confFiles: Record<string, { text: string; mode: number }> = {}
  const dracutModules = new Set<string>()
  for (const f of FILES[builder]) {
    const staged = path.join(stage, f.path)
    const rel = confPath(builder, f.path)
    if (rel !== undefined) confFiles[rel] = { text: await fs.readFile(staged, 'utf8'), mode: f.mode }
    else dracutModules.add(path.dirname(staged))
  }
  return { name: 'modload', confFiles, dracutModules: [...dracutModules], key: await fileDigest(modload) }
}

/** Earlier builds of the same variant (another executable: each is 50-60 MiB) go, so the cache
 * holds one per variant and kernel. */
async function pruneOthers(keep: string, prefix: string): Promise<void> {
  const dir = path.dirname(keep)
  for (const f of await fs.readdir(dir)) {
    if (f.startsWith(prefix) && /\.img(\.json)?$/.test(f) && !keep.endsWith(`/${f.replace(/\.json$/, '')}`)) await fs.rm(path.join(dir, f), { force: true })
  }
}

export interface BuilderImages {
  stock: PeerImage
  modload: PeerImage
}

/** The builder's image with modload's integration, as `integrationVariant` stages it and
 * `change` adapts it (another name, builder arguments, settings); built once, cached, and the
 * cache's older builds of the same variant pruned. */
async function ensureIntegrationImage(builder: Builder, kernel: Kernel, log: ((line: string) => void) | undefined, change: (v: PeerVariant) => PeerVariant = (v) => v, modload = executable): Promise<PeerImage> {
  const kind = stockKind[builder]
  const stage = path.join(cacheDir, 'integrate', `stage-${builder}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`)
  try {
    const variant = change(await integrationVariant(builder, stage, modload))
    const img = await ensurePeerImage(kind, kernel, { log, variant })
    await pruneOthers(img.path, `${kind}+${variant.name}-${kernel.version}-`)
    return img
  } finally {
    await fs.rm(stage, { recursive: true, force: true })
  }
}

/** Both images of `builder` for `kernel`, built once and cached. */
export async function ensureBuilderImages(builder: Builder, kernel: Kernel, log?: (line: string) => void): Promise<BuilderImages> {
  const stock = await ensurePeerImage(stockKind[builder], kernel, { log })
  return { stock, modload: await ensureIntegrationImage(builder, kernel, log) }
}

/** Words added to `root=UUID=...` per builder: loglevel=6, so the integration's notice (kernel
 * log level 5) reaches the console under `quiet`; no_timer_check, because a guest whose host is
 * busy (an image build beside the boot) can fail the kernel's 8254 timer check under TCG and
 * panic ("IO-APIC + timer doesn't work") before anything ran; for dracut the words that end a
 * boot whose root never comes (bench/e2e.ts says why). */
const common = 'rootfstype=ext4 loglevel=6 no_timer_check'
export const bootWords: Readonly<Record<Builder, string>> = {
  'initramfs-tools': common,
  dracut: `${common} rd.timeout=60 rd.retry=60 rd.shell=0 rd.emergency=poweroff`,
}

/** The .ko names (as module names) in an image, from `unmkinitramfs`'s tree. */
export async function imageModules(tree: string): Promise<Set<string>> {
  const out = new Set<string>()
  for (const e of await fs.readdir(tree, { recursive: true, withFileTypes: true })) {
    const m = /^(.+)\.ko(\.(xz|zst|gz))?$/.exec(e.name)
    if (m && !e.isDirectory()) out.add(m[1].replace(/-/g, '_'))
  }
  return out
}

/** Unpack `image` with Debian's unmkinitramfs into `dir` (every archive of it, early ones
 * included, each in a directory of its own). */
export async function unpackImage(image: string, dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true })
  await fs.mkdir(dir, { recursive: true })
  await run('unmkinitramfs', [image, dir])
}

/** dracut's image with modload's module but without systemd (dracut's own init.sh runs the
 * pre-trigger hook): the other way dracut boots. */
export function ensureDracutWithoutSystemd(kernel: Kernel, log?: (line: string) => void): Promise<PeerImage> {
  return ensureIntegrationImage('dracut', kernel, log, (v) => ({ ...v, name: 'modload-nosystemd', args: ['--omit', 'systemd'] }))
}

/** `v` with one setting of an installed settings file changed (`KEY=from` to `KEY=to`), named
 * `name`; throws when the file has no such line (the file changed under the test). Pure. */
function withSetting(v: PeerVariant, file: string, key: string, from: string, to: string, name: string): PeerVariant {
  const conf = v.confFiles?.[file]
  const line = new RegExp(`^${key}=${from}$`, 'm')
  if (!conf || !line.test(conf.text)) throw new Error(`${file} has no ${key}=${from} line to change`)
  return { ...v, name, confFiles: { ...v.confFiles, [file]: { ...conf, text: conf.text.replace(line, `${key}=${to}`) } } }
}

/** Where each builder's integration keeps its settings (in the tool's private configuration)
 * and the names of the two a benchmark changes: the selection's arguments and the runtime's
 * place. */
const settings: Readonly<Record<Builder, { file: string; args: string; runtime: string }>> = {
  'initramfs-tools': { file: 'conf.d/modload', args: 'MODLOAD_ARGS', runtime: 'MODLOAD_RUNTIME' },
  dracut: { file: 'dracut.conf.d/90-modload.conf', args: 'modload_args', runtime: 'modload_runtime' },
}

/** `v` with the executable in the uncompressed early archive (MODLOAD_RUNTIME=early,
 * modload_runtime=early), named `modload-early`. Pure. */
function earlyRuntime(builder: Builder, v: PeerVariant): PeerVariant {
  const { file, runtime } = settings[builder]
  return withSetting(v, file, runtime, 'main', 'early', 'modload-early')
}

/** `v` built as on `machine` itself: modload's selection, and the root's chain the image
 * records, read from the machine's capture (qemu/capture.ts: its /sys with the root disk
 * mounted) through `--sysfs`, where an image built on this host would describe this host.
 * `captureKey` (the capture's digest) goes into the cache key; the name gets `-MACHINE`. */
export function forMachine(builder: Builder, v: PeerVariant, machine: string, captureDir: string, captureKey: string): PeerVariant {
  const { file, args } = settings[builder]
  const changed = withSetting(v, file, args, '', `"--sysfs ${captureDir}"`, `${v.name}-${machine}`)
  return { ...changed, key: `${v.key ?? ''}:${captureKey}` }
}

/** The builder's image with modload's integration built as on `machine` (forMachine), with the
 * default settings or, `early`, the executable in the uncompressed early archive. */
export function ensureIntegrationForMachine(builder: Builder, kernel: Kernel, machine: { name: string; captureDir: string; captureKey: string }, opts: { early?: boolean; log?: (line: string) => void } = {}): Promise<PeerImage> {
  return ensureIntegrationImage(builder, kernel, opts.log, (v) => forMachine(builder, opts.early ? earlyRuntime(builder, v) : v, machine.name, machine.captureDir, machine.captureKey))
}

/** initramfs-tools' image with modload's hook and MODLOAD_RUNTIME=early: the executable in an
 * uncompressed archive of its own in front of the compressed one. */
export function ensureInitramfsToolsEarly(kernel: Kernel, log?: (line: string) => void): Promise<PeerImage> {
  return ensureIntegrationImage('initramfs-tools', kernel, log, (v) => earlyRuntime('initramfs-tools', v))
}

/** dracut's image with modload's module and modload_runtime=early: the executable in dracut's
 * uncompressed early archive, in front of the compressed image. */
export function ensureDracutEarly(kernel: Kernel, log?: (line: string) => void): Promise<PeerImage> {
  return ensureIntegrationImage('dracut', kernel, log, (v) => earlyRuntime('dracut', v))
}

/** What stands in for modload in dracutWithFailingModload's image: a coldplug that ends
 * with exit 1 and no root device, after udev's trigger has run (the hook returned at once). */
const failingModload = `#!/bin/sh
# modload's stand-in for the failure-policy test (initramfs/integrate/images.ts): every command
# fails; "coldplug" after 3 s, answering on --ready-fd 3 as modload does when it ends first
case "$1" in
coldplug)
\tsleep 3
\techo "exit 1" >&3 2>/dev/null
\texit 1
\t;;
esac
exit 1
`

/** `modload` (dracut's image with modload's module, ensureBuilderImages) with an executable
 * that fails at boot: failingModload in place of /usr/sbin/modload, in an archive appended to
 * the image (initramfs/overlay.ts; a build of its own took 100 s of CI). The boot must go the
 * stock way, later. The overlays of earlier images are removed. */
export async function dracutWithFailingModload(modload: PeerImage): Promise<PeerImage> {
  const dir = path.join(cacheDir, 'integrate')
  await fs.mkdir(dir, { recursive: true })
  const name = `failing-${path.basename(modload.path)}`
  for (const old of await fs.readdir(dir)) if (old.startsWith('failing-') && old.endsWith('.img') && old !== name) await fs.rm(path.join(dir, old), { force: true })
  const out = path.join(dir, name)
  writeOverlay(modload.path, out, { [IMAGE_MODLOAD.slice(1)]: failingModload }, { [IMAGE_MODLOAD.slice(1)]: 0o755 })
  return { ...modload, path: out, bytes: (await fs.stat(out)).size, cached: false }
}
