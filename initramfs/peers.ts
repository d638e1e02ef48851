// The peer initramfs systems, built by their own tools for one of the test kernels, so the
// benchmarks (bench/image-size.ts, the end-to-end boot benchmark) and tests can put modload's
// images beside what Debian users actually boot:
//   initramfs-tools-most  Debian's mkinitramfs (initramfs-tools-core), MODULES=most
//   initramfs-tools-dep   the same with MODULES=dep (the drivers of this host's root disk)
//   dracut-hostonly       dracut (dracut-core) --hostonly
//   dracut-generic        dracut --no-hostonly
//   tiny-initramfs        mktirfs (tiny-initramfs-core) with a fixed module list from the caller
// The -core packages are installed side by side with apt-get (the front packages conflict, see
// FINDINGS.md). Each tool runs with a private configuration (never /etc's), zstd where the tool
// lets us choose (tiny-initramfs always gzips).
//
// The kernel is not the host's: the tools read /lib/modules/<kver> (and mkinitramfs
// /boot/config-<kver>) of the machine they run on. dracut takes --kmoddir; the others run in a
// private mount namespace (`unshare --mount`) where read-only overlays put the cached tree at
// /lib/modules/<kver> and the cached config at /boot/config-<kver>. The host's file systems are
// never written: what the namespace mounts disappears with its last process, even on SIGKILL.
// dracut --hostonly finds the root disk's driver through /dev/block/MAJ:MIN, links that udev
// makes; a host without udev (this one) gets them in dracut's own namespace, over /dev. Through
// those links dracut asks blkid for the root's filesystem type; where blkid cannot read the root
// device (this sandbox: EPERM) the type from the mount table is named with dracut's
// --filesystems. Both are recorded as notes of the image.
//
// Host-only modes describe the machine they run on, here a Firecracker VM (virtio-pci block
// device, ext4 root): the QEMU `virtio` machine has the same kind of disk, so they boot there.
// The host kernel has no loadable modules (no /proc/modules): dracut then keeps every driver its
// rules name instead of only loaded ones (it says "Switching to non-hostonly mode").
//
// Images are cached as .cache/peers/<kind>-<kver>-<hash>.img, the hash over everything that
// shapes them (kind, kernel, tool version, configuration, module list, for host-only kinds the
// host's root device); a .json beside each records the build (seconds, command, warnings).
// A variant (PeerVariant: files added to the tool's private configuration, extra dracut
// modules, extra arguments; modload's integration, initramfs/integrate/) is cached as
// <kind>+<name>-<kver>-<hash>.img with those in the hash.
//
// The second half boots them: ensureRootDisk makes an ext4 disk (fixed UUID) whose /sbin/init is
// a static busybox script printing `peers: root uptime=U idle=I` and powering off, and
// bootToRoot boots an image with `root=UUID=...` on a QEMU machine and reads that marker.
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { boot, type BootResult } from '../qemu/boot.js'
import { ensureDebianPackages, findCommand } from '../qemu/deps.js'
import { query, run } from '../qemu/exec.js'
import type { Kernel } from '../qemu/kernels.js'
import { withLock } from '../qemu/lock.js'
import { getMachine, rootTarget } from '../qemu/machines.js'
import { cacheDir, tmpDir } from '../qemu/paths.js'

export const peerKinds = ['initramfs-tools-most', 'initramfs-tools-dep', 'dracut-hostonly', 'dracut-generic', 'tiny-initramfs'] as const
export type PeerKind = (typeof peerKinds)[number]

type Tool = 'initramfs-tools' | 'dracut' | 'tiny-initramfs'

export interface PeerSpec {
  tool: Tool
  /** the Debian package that holds the tool */
  package: string
  /** the image depends on the host it is built on */
  hostOnly: boolean
  /** the compressor the image ends up with */
  compression: string
  /** what the image holds, in a line */
  description: string
}

export const peerSpecs: Readonly<Record<PeerKind, PeerSpec>> = {
  'initramfs-tools-most': {
    tool: 'initramfs-tools',
    package: 'initramfs-tools-core',
    hostOnly: false,
    compression: 'zstd -9',
    description: 'mkinitramfs MODULES=most: every storage, USB, input, filesystem, framebuffer class driver; udev, busybox, klibc',
  },
  'initramfs-tools-dep': {
    tool: 'initramfs-tools',
    package: 'initramfs-tools-core',
    hostOnly: true,
    compression: 'zstd -9',
    description: "mkinitramfs MODULES=dep: the drivers of the build host's root disk and a few device classes; udev, busybox, klibc",
  },
  'dracut-hostonly': {
    tool: 'dracut',
    package: 'dracut-core',
    hostOnly: true,
    compression: 'zstd -15',
    description: "dracut --hostonly: dracut modules for the build host's storage; systemd + udev in the initramfs",
  },
  'dracut-generic': {
    tool: 'dracut',
    package: 'dracut-core',
    hostOnly: false,
    compression: 'zstd -15',
    description: 'dracut --no-hostonly: every block, filesystem, input and crypto driver; systemd + udev, dm and crypt support',
  },
  'tiny-initramfs': {
    tool: 'tiny-initramfs',
    package: 'tiny-initramfs-core',
    hostOnly: false,
    compression: 'gzip -9',
    description: 'mktirfs: a ~30 KB static C init and the listed modules with their dependencies, loaded in order, no udev',
  },
}

/** What a root on virtio-blk with ext4 needs from the 6.1 kernel's modules (ext4's metadata
 * checksums need a crc32c provider: Debian builds CRYPTO_CRC32C as a module). */
export const virtioExt4Modules: readonly string[] = ['virtio_pci', 'virtio_blk', 'ext4', 'crc32c_generic']

export const peersDir: string = path.join(cacheDir, 'peers')

/** Bumped when the way an image is built changes in a way the hashed inputs do not show. */
const layoutVersion = 1

export interface PeerImageOptions {
  /** tiny-initramfs: the modules to include (dependencies are added by the tool); default
   * virtioExt4Modules. Ignored by the other kinds, which choose for themselves. */
  modules?: readonly string[]
  /** rebuild even when a cached image exists (a benchmark timing the build) */
  force?: boolean
  /** progress lines */
  log?: (line: string) => void
  /** the image with something added to the tool's own configuration (an integration such as
   * modload's hook, issue 12); its name goes into the file name, everything into the key */
  variant?: PeerVariant
}

/** Additions to a peer tool's private configuration. */
export interface PeerVariant {
  /** a short name for the file name, e.g. `modload` */
  name: string
  /** files written into the private configuration directory (initramfs-tools: the `-d` dir,
   * e.g. `hooks/x`, `conf.d/x`; dracut: `dracut.conf.d/x.conf`), path -> text and mode */
  confFiles?: Readonly<Record<string, { text: string; mode: number }>>
  /** dracut: directories of extra dracut modules (each named like `90name`), shown to dracut
   * beside its own through a `dracutbasedir` of links (dracut reads modules only from there) */
  dracutModules?: readonly string[]
  /** more inputs for the cache key, e.g. a digest of a program a hook copies into the image */
  key?: string
  /** more arguments for the tool, before the output file (dracut: e.g. `--omit systemd`) */
  args?: readonly string[]
}

export interface PeerImage {
  kind: PeerKind
  /** `uname -r` of the kernel it is for */
  kernel: string
  /** absolute path of the image */
  path: string
  bytes: number
  /** wall-clock seconds of the tool's run that made this file */
  buildSeconds: number
  /** the Debian package and its version, e.g. `dracut-core 059-4` */
  tool: string
  toolVersion: string
  /** what was run (inside the private namespace for the kinds that need one) */
  command: string[]
  /** the tool's warning and error lines (stderr), for the record */
  warnings: string[]
  /** what was done so the tool could work on this host (see the file's header) */
  notes: string[]
  /** true when the image came from the cache rather than this call */
  cached: boolean
}

/** The sidecar .json of a cached image. */
type BuildRecord = Omit<PeerImage, 'path' | 'bytes' | 'cached'>

// ---------------------------------------------------------------------------------------------
// Configuration of each tool (pure)

/** Debian's initramfs.conf defaults (initramfs-tools 0.142) with MODULES set. The private
 * config dir keeps the host's /etc/initramfs-tools out of the image. */
export function initramfsToolsConf(modules: 'most' | 'dep'): string {
  return [`MODULES=${modules}`, 'BUSYBOX=auto', 'KEYMAP=n', 'COMPRESS=zstd', 'DEVICE=', 'NFSROOT=auto', 'RUNSIZE=10%', 'FSTYPE=auto', ''].join('\n')
}

/** The directories mkinitramfs -d expects in a config dir. */
const initramfsToolsScriptDirs = ['init-bottom', 'init-premount', 'init-top', 'local-bottom', 'local-premount', 'local-top', 'nfs-bottom', 'nfs-premount', 'nfs-top', 'panic']

/** The tool's argument list (without the program) for `kind`. Pure. */
export function toolArgs(kind: PeerKind, p: { kver: string; out: string; confDir: string; kmoddir: string; tmp: string; modules: readonly string[]; extra?: readonly string[] }): string[] {
  switch (kind) {
    case 'initramfs-tools-most':
    case 'initramfs-tools-dep':
      return ['-d', p.confDir, '-o', p.out, p.kver]
    case 'dracut-hostonly':
    case 'dracut-generic':
      return [
        '--force', '--kver', p.kver, '--kmoddir', p.kmoddir,
        kind === 'dracut-hostonly' ? '--hostonly' : '--no-hostonly',
        // root= comes from the boot's command line, never from the build host
        '--no-hostonly-cmdline',
        '--zstd',
        '--conf', path.join(p.confDir, 'dracut.conf'), '--confdir', path.join(p.confDir, 'dracut.conf.d'),
        '--tmpdir', p.tmp,
        ...(p.extra ?? []),
        p.out,
      ]
    case 'tiny-initramfs':
      // -m no: no modules for the build host's root; -M no: no microcode; -d no: the plain init
      return ['-o', p.out, '-m', 'no', '-M', 'no', '-d', 'no', `--include-modules=${p.modules.join(',')}`, p.kver]
  }
}

const programs: Readonly<Record<Tool, string>> = { 'initramfs-tools': 'mkinitramfs', dracut: 'dracut', 'tiny-initramfs': 'mktirfs' }

// ---------------------------------------------------------------------------------------------
// The private mount namespace (pure parts)

/** What the namespace shows in place of the host's files. */
export interface PrivateView {
  /** a directory of ours holding the overlay's upper layers (lib/, boot/, dev/) */
  stub: string
  /** realpath of /lib (on a merged-/usr system /usr/lib) */
  libDir?: string
  /** cached lib/modules/<kver>, bound onto <libDir>/modules/<kver> */
  modules?: { kver: string; tree: string }
  /** overlay /boot with stub/boot (holding config-<kver>) */
  boot?: boolean
  /** overlay /dev with stub/dev (holding block/MAJ:MIN links) */
  dev?: boolean
}

/** Single-quote `s` for sh. */
export function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`
}

/** overlayfs takes ',' and ':' as separators in lowerdir. */
function overlayPath(p: string): string {
  if (/[,:\\]/.test(p)) throw new Error(`${p}: a path with ',', ':' or '\\' cannot be an overlay layer; move the project or its .cache`)
  return p
}

/**
 * The sh script run by `unshare --mount --propagation private -- sh -ec SCRIPT sh PROGRAM ARGS`:
 * read-only overlays (stub layer on top of the host's directory) and the bind mount of the
 * cached module tree, then exec the tool. Pure.
 */
export function namespaceScript(v: PrivateView): string {
  const lines = ['set -e']
  const overlay = (name: string, upper: string, target: string) =>
    `mount -t overlay ${name} -o ${shQuote(`lowerdir=${overlayPath(upper)}:${overlayPath(target)}`)} ${shQuote(target)}`
  if (v.modules) {
    if (!v.libDir) throw new Error('namespaceScript: modules needs libDir')
    lines.push(overlay('modload-peers-lib', path.join(v.stub, 'lib'), v.libDir))
    lines.push(`mount --bind ${shQuote(v.modules.tree)} ${shQuote(path.join(v.libDir, 'modules', v.modules.kver))}`)
  }
  if (v.boot) lines.push(overlay('modload-peers-boot', path.join(v.stub, 'boot'), '/boot'))
  if (v.dev) lines.push(overlay('modload-peers-dev', path.join(v.stub, 'dev'), '/dev'))
  lines.push('exec "$@"')
  return lines.join('\n') + '\n'
}

/** /dev/block links as udev makes them: MAJ:MIN -> ../NAME, from /sys/dev/block entries
 * (`{majmin, devname}` with DEVNAME from each uevent file). Pure. */
export function devBlockLinks(entries: ReadonlyArray<{ majmin: string; devname?: string }>): Array<[string, string]> {
  return entries.filter((e) => e.devname).map((e) => [e.majmin, `../${e.devname}`])
}

/** The root mount of a /proc/self/mountinfo text: its MAJ:MIN, fs type and source. Pure. */
export function rootMount(mountinfo: string): { majmin: string; fstype: string; source: string } | undefined {
  let found: { majmin: string; fstype: string; source: string } | undefined
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ')
    const sep = f.indexOf('-')
    if (f[4] === '/' && sep > 0) found = { majmin: f[2], fstype: f[sep + 1], source: f[sep + 2] }
  }
  return found // the last mount on / is the one in effect
}

// ---------------------------------------------------------------------------------------------
// Building

async function packageVersion(pkg: string): Promise<string> {
  return (await query('dpkg-query', ['-W', '-f=${Version}', pkg])).trim()
}

/** Packages of the tool's own that are not additions (initramfs-tools' hooks directory holds
 * theirs as well). */
const ownHookPackages = new Set(['initramfs-tools', 'initramfs-tools-core', 'klibc-utils', 'kmod', 'udev', 'busybox', 'busybox-static'])

/** Storage tools whose dracut modules (mdraid, lvm, dmraid, crypt, multipath, btrfs, iscsi,
 * nfs) go into a generic image when the tool is installed. */
const dracutStoragePackages = ['mdadm', 'lvm2', 'dmraid', 'cryptsetup', 'multipath-tools', 'btrfs-progs', 'open-iscsi', 'nfs-common']

/**
 * The packages of this host that add their own parts to `tool`'s images: for initramfs-tools
 * the owners of /usr/share/initramfs-tools/hooks/* beyond its own (lvm2, mdadm, dmraid, ...),
 * for dracut the installed storage tools whose dracut modules go in. A machine where
 * dracut-core was installed with its recommendations has all of them: their scripts run at
 * every boot (mdadm's RAID assembly loads raid456, whose RAID6 self-benchmark takes 0.2-0.3 s
 * on the steady clock). Sorted; part of the image's cache key and said in its notes.
 */
export async function hostAdditions(tool: Tool): Promise<string[]> {
  if (tool === 'tiny-initramfs') return []
  if (tool === 'dracut') {
    const out: string[] = []
    for (const pkg of dracutStoragePackages) {
      const status = await query('dpkg-query', ['-W', '-f=${db:Status-Status}', pkg]).catch(() => '')
      if (status.trim() === 'installed') out.push(pkg)
    }
    return out.sort()
  }
  const dir = '/usr/share/initramfs-tools/hooks'
  const hooks = (await fs.readdir(dir).catch(() => [] as string[])).map((f) => path.join(dir, f))
  if (hooks.length === 0) return []
  // dpkg -S fails for a hook no package owns (a local one) but still names the others' owners
  const owners = await run('dpkg', ['-S', ...hooks], { nothrow: true }).then((r) => r.stdout.toString()).catch(() => '')
  const pkgs = new Set<string>()
  for (const line of owners.split('\n')) {
    const m = /^([^:\s]+)(:[^:\s]+)?: /.exec(line)
    if (m) for (const p of m[1].split(',').map((x) => x.trim())) if (!ownHookPackages.has(p)) pkgs.add(p)
  }
  return [...pkgs].sort()
}

/** `img` with the note on `additions` (said at each call, not recorded: older records lack it). */
function withAdditions(img: PeerImage, tool: Tool, additions: readonly string[]): PeerImage {
  const note = additionsNote(tool, additions)
  return note === undefined || img.notes.includes(note) ? img : { ...img, notes: [...img.notes, note] }
}

/** The note for `hostAdditions`' packages, for the benchmarks' pages. */
export function additionsNote(tool: Tool, pkgs: readonly string[]): string | undefined {
  if (pkgs.length === 0) return undefined
  return `the build host has ${pkgs.join(', ')} installed (as with dracut-core's recommendations): ${tool === 'dracut' ? 'their dracut modules' : 'their initramfs-tools hooks and boot scripts'} are in the image and run at boot (e.g. RAID assembly, whose raid456 module benchmarks RAID6 at load)`
}

/** What a host-only tool sees of this host: the root mount and its device's sysfs path. */
async function hostFingerprint(): Promise<string> {
  const root = rootMount(await fs.readFile('/proc/self/mountinfo', 'utf8'))
  if (!root) return 'no root mount'
  const sys = await fs.realpath(`/sys/dev/block/${root.majmin}`).catch(() => 'none')
  return `${root.source} ${root.fstype} ${root.majmin} ${sys}`
}

async function readDevBlock(): Promise<Array<{ majmin: string; devname?: string }>> {
  const out = []
  for (const majmin of await fs.readdir('/sys/dev/block').catch(() => [] as string[])) {
    const uevent = await fs.readFile(`/sys/dev/block/${majmin}/uevent`, 'utf8').catch(() => '')
    out.push({ majmin, devname: /^DEVNAME=(.+)$/m.exec(uevent)?.[1] })
  }
  return out
}

/** How a tool is run on this host: the namespace view (if any), arguments added for what this
 * host cannot show the tool, and notes saying so (they go into the benchmark's doc). */
interface HostSetup {
  view?: PrivateView
  extraArgs: string[]
  notes: string[]
}

/** Populate the stub layers under `stub` and say how to run `kind` here. */
async function prepareHost(kind: PeerKind, kernel: Kernel, stub: string): Promise<HostSetup> {
  const tool = peerSpecs[kind].tool
  if (tool === 'dracut') {
    if (kind !== 'dracut-hostonly') return { extraArgs: [], notes: [] } // --kmoddir is all it needs
    const setup: HostSetup = { extraArgs: [], notes: [] }
    // A host with udev has these links already; then the host's are used as they are.
    if (!(await fs.stat('/dev/block').catch(() => undefined))) {
      await fs.mkdir(path.join(stub, 'dev', 'block'), { recursive: true })
      for (const [majmin, target] of devBlockLinks(await readDevBlock())) await fs.symlink(target, path.join(stub, 'dev', 'block', majmin))
      setup.view = { stub, dev: true }
      setup.notes.push('no udev on the build host: dracut was given the /dev/block/MAJ:MIN links udev would have made (in a private mount namespace), through which it finds the root disk\'s driver')
    }
    // Through /dev/block dracut asks blkid for the root's filesystem; where the root device
    // cannot be read (this sandbox: EPERM), name the type the mount table shows, as dracut
    // itself does when it has no /dev/block.
    const root = rootMount(await fs.readFile('/proc/self/mountinfo', 'utf8'))
    if (root && !(await blkidType(root.source))) {
      setup.extraArgs.push('--filesystems', root.fstype)
      setup.notes.push(`blkid cannot read the build host's root device ${root.source}: its filesystem (${root.fstype}, from the mount table) was named with --filesystems`)
    }
    return setup
  }
  const libDir = await fs.realpath('/lib')
  await fs.mkdir(path.join(stub, 'lib', 'modules', kernel.version), { recursive: true })
  const view: PrivateView = { stub, libDir, modules: { kver: kernel.version, tree: kernel.modulesDir } }
  if (tool === 'initramfs-tools') {
    // mkinitramfs checks the kernel's config for the compressor's CONFIG_RD_*
    if (!(await fs.stat('/boot').catch(() => undefined))) throw new Error('mkinitramfs reads /boot/config-KVER, and this host has no /boot to overlay')
    await fs.mkdir(path.join(stub, 'boot'), { recursive: true })
    await fs.symlink(kernel.config, path.join(stub, 'boot', `config-${kernel.version}`))
    view.boot = true
  }
  return { view, extraArgs: [], notes: [] }
}

/** The filesystem type blkid reads on `device`, '' when it cannot. */
async function blkidType(device: string): Promise<string> {
  if (!device.startsWith('/dev/')) return ''
  return (await query('blkid', ['-o', 'value', '-s', 'TYPE', '--', device])).trim()
}

/** Write the tool's private configuration under `dir`. Returns its text, for the cache key. */
async function writeConfig(kind: PeerKind, dir: string): Promise<string> {
  const tool = peerSpecs[kind].tool
  if (tool === 'initramfs-tools') {
    const conf = initramfsToolsConf(kind === 'initramfs-tools-dep' ? 'dep' : 'most')
    for (const d of ['conf.d', 'hooks', ...initramfsToolsScriptDirs.map((s) => `scripts/${s}`)]) await fs.mkdir(path.join(dir, d), { recursive: true })
    await fs.writeFile(path.join(dir, 'initramfs.conf'), conf)
    await fs.writeFile(path.join(dir, 'modules'), '')
    return conf
  }
  if (tool === 'dracut') {
    // empty: dracut's built-in defaults, not the host's /etc/dracut.conf{,.d}
    await fs.mkdir(path.join(dir, 'dracut.conf.d'), { recursive: true })
    await fs.writeFile(path.join(dir, 'dracut.conf'), '')
    return ''
  }
  return ''
}

/** A digest of a small directory's files (names and contents). */
async function dirDigest(dir: string): Promise<string> {
  const h = createHash('sha256')
  for (const e of (await fs.readdir(dir, { withFileTypes: true, recursive: true })).sort((a, b) => (path.join(a.parentPath, a.name) < path.join(b.parentPath, b.name) ? -1 : 1))) {
    if (!e.isFile()) continue
    const p = path.join(e.parentPath, e.name)
    h.update(`${path.relative(dir, p)}\0`).update(await fs.readFile(p))
  }
  return h.digest('hex')
}

/** Write a variant's files into the private configuration; for dracut with extra modules, make
 * a dracutbasedir under `farm` (links to /usr/lib/dracut's files and modules, plus the extra
 * module directories) and return it, else ''. */
async function applyVariant(v: PeerVariant, tool: Tool, confDir: string, farm: string): Promise<string> {
  for (const [rel, f] of Object.entries(v.confFiles ?? {})) {
    const dest = path.join(confDir, rel)
    await fs.mkdir(path.dirname(dest), { recursive: true })
    await fs.writeFile(dest, f.text, { mode: f.mode })
    await fs.chmod(dest, f.mode)
  }
  if (tool !== 'dracut' || !v.dracutModules?.length) return ''
  const base = '/usr/lib/dracut'
  await fs.mkdir(path.join(farm, 'modules.d'), { recursive: true })
  for (const e of await fs.readdir(base)) if (e !== 'modules.d') await fs.symlink(path.join(base, e), path.join(farm, e))
  for (const e of await fs.readdir(path.join(base, 'modules.d'))) await fs.symlink(path.join(base, 'modules.d', e), path.join(farm, 'modules.d', e))
  for (const dir of v.dracutModules) await fs.cp(dir, path.join(farm, 'modules.d', path.basename(dir)), { recursive: true })
  return farm
}

/** The tool's stderr lines worth keeping: warnings and errors, not progress. */
export function warningLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^(W:|E:)|warning|error|could not|not permitted|switching to/i.test(l))
    // dracut lists every optional module whose program is not installed: that is not a problem
    .filter((l) => !/will not be installed, because|Could not find any command of/.test(l))
}

async function cachedImage(out: string): Promise<PeerImage | undefined> {
  try {
    const rec = JSON.parse(await fs.readFile(`${out}.json`, 'utf8')) as BuildRecord
    const st = await fs.stat(out)
    return { ...rec, path: out, bytes: st.size, cached: true }
  } catch {
    return undefined
  }
}

/**
 * The image of peer `kind` for `kernel`, built by the peer's own tool (installed on first use)
 * unless a cached one matches every input. Serialised per kind and kernel across processes.
 */
export async function ensurePeerImage(kind: PeerKind, kernel: Kernel, opts: PeerImageOptions = {}): Promise<PeerImage> {
  const spec = peerSpecs[kind]
  if (!spec) throw new Error(`unknown peer kind "${kind}"; known: ${peerKinds.join(', ')}`)
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`))
  // zstd compresses the images; cpio, util-linux (unshare) and kmod are the tools' own needs
  await ensureDebianPackages([spec.package, 'zstd', 'cpio', 'kmod', 'util-linux', ...(spec.tool === 'initramfs-tools' ? ['busybox-static'] : [])])
  const toolVersion = await packageVersion(spec.package)
  const modules = spec.tool === 'tiny-initramfs' ? [...(opts.modules ?? virtioExt4Modules)] : []
  await fs.mkdir(peersDir, { recursive: true })

  const scratch = await fs.mkdtemp(path.join(peersDir, `build-${kind}-`))
  try {
    const confDir = path.join(scratch, 'conf')
    const conf = await writeConfig(kind, confDir)
    const host = await prepareHost(kind, kernel, path.join(scratch, 'stub'))
    const variant = opts.variant
    const dracutbasedir = variant ? await applyVariant(variant, spec.tool, confDir, path.join(scratch, 'dracut')) : ''
    const additions = await hostAdditions(spec.tool)
    const hash = createHash('sha256')
      .update(JSON.stringify([layoutVersion, kind, kernel.version, spec.package, toolVersion, conf, modules, host.extraArgs, spec.hostOnly ? await hostFingerprint() : '']))
    // an image built before a package added its hooks (or after one went) is another image
    if (additions.length) hash.update(JSON.stringify(additions))
    if (variant) hash.update(JSON.stringify([variant.name, variant.confFiles ?? {}, variant.key ?? '', variant.args ?? []]))
    for (const dir of variant?.dracutModules ?? []) hash.update(await dirDigest(dir))
    const key = hash.digest('hex').slice(0, 16)
    const label = variant ? `${kind}+${variant.name}` : kind
    const out = path.join(peersDir, `${label}-${kernel.version}-${key}.img`)
    return await withLock(path.join(peersDir, `${label}-${kernel.version}.lock`), async () => {
      if (!opts.force) {
        const have = await cachedImage(out)
        if (have) return withAdditions(have, spec.tool, additions)
      }
      const tmpOut = path.join(scratch, 'image.img')
      const tmp = path.join(scratch, 'tmp')
      await fs.mkdir(tmp)
      const program = (await findCommand(programs[spec.tool])) ?? programs[spec.tool]
      const args = toolArgs(kind, { kver: kernel.version, out: tmpOut, confDir, kmoddir: kernel.modulesDir, tmp, modules, extra: [...host.extraArgs, ...(variant?.args ?? [])] })
      const view = host.view
      const command = view
        ? ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-ec', namespaceScript(view), 'sh', program, ...args]
        : [program, ...args]
      log(`peers: building ${label} for ${kernel.version} (${spec.package} ${toolVersion})`)
      const started = process.hrtime.bigint()
      // TMPDIR: mkinitramfs and mktirfs put their work trees there (dracut has --tmpdir)
      const r = await run(command[0], command.slice(1), { env: { ...process.env, ...(dracutbasedir ? { dracutbasedir } : {}), TMPDIR: tmp }, nothrow: true })
      const buildSeconds = Number(process.hrtime.bigint() - started) / 1e9
      const size = (await fs.stat(tmpOut).catch(() => undefined))?.size ?? 0
      if (r.exitCode !== 0 || size === 0) {
        throw new Error(`${kind}: ${programs[spec.tool]} failed (${r.signal ?? `exit ${r.exitCode}`}, image ${size} bytes): ${r.stderr.trim().split('\n').slice(-15).join('\n')}`)
      }
      const rec: BuildRecord = { kind, kernel: kernel.version, buildSeconds, tool: `${spec.package} ${toolVersion}`, toolVersion, command: [program, ...args], warnings: warningLines(r.stderr), notes: host.notes }
      await fs.rename(tmpOut, out)
      await fs.writeFile(`${out}.json`, JSON.stringify(rec, null, 2) + '\n')
      log(`peers: ${label}: ${(size / 2 ** 20).toFixed(1)} MiB in ${buildSeconds.toFixed(1)} s`)
      return withAdditions({ ...rec, path: out, bytes: size, cached: false }, spec.tool, additions)
    })
  } finally {
    await fs.rm(scratch, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------------
// The root disk and booting to it

/** The root filesystem's UUID, for `root=UUID=`. */
export const rootUuid = '7e57b007-0000-4000-8000-00000000beef'

/** The prefix of the line the root's init prints. */
export const rootMarker = 'peers: root'

/** /sbin/init of the root disk: runs as PID 1 after whatever initramfs handed over, so it
 * mounts what it needs itself (tiny-initramfs moves no /dev, /proc into the root), prints the
 * guest clock and powers off. Every command is a busybox applet, called as such. Pure. */
export function rootInitScript(opts: RootDiskOptions = {}): string {
  // the kernel's own console lines (USB disks appear late) must not cut into the listing
  const list = opts.listModules ? `/bin/busybox dmesg -n 1\nwhile read -r name _; do echo "${rootMarker} module $name"; done </proc/modules\n` : ''
  return `#!/bin/sh
# modload peers root init (initramfs/peers.ts): report the uptime, power off
[ -e /proc/uptime ] || /bin/busybox mount -t proc proc /proc
[ -e /dev/console ] || /bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
read -r up idle </proc/uptime
echo "${rootMarker} uptime=$up idle=$idle pid=$$"
${list}/bin/busybox poweroff -f
/bin/busybox sleep 60
`
}

export interface RootDiskOptions {
  /** the root's init also prints `peers: root module NAME` for each line of /proc/modules,
   * after its marker (a disk of its own: the benchmark's disk stays as it is) */
  listModules?: boolean
}

/** The modules a root init made with listModules printed. Pure. */
export function parseRootModules(lines: readonly string[]): string[] {
  const out: string[] = []
  for (const line of lines) {
    const m = /peers: root module (\S+)/.exec(line)
    if (m) out.push(m[1])
  }
  return out.sort()
}

export interface RootDisk {
  /** absolute path of the raw ext4 image (do not boot it in place: bootToRoot copies it) */
  path: string
  uuid: string
}

/**
 * A raw ext4 disk whose /sbin/init is rootInitScript() over busybox-static, with UUID rootUuid,
 * made with `mkfs.ext4 -d` (no mount), cached under .cache/peers by a hash of its contents.
 * `kernel` is not needed by the disk (no modules on it) and only names it in logs.
 */
export async function ensureRootDisk(kernel?: Pick<Kernel, 'version'>, opts: RootDiskOptions = {}): Promise<RootDisk> {
  await ensureDebianPackages(['e2fsprogs', 'busybox-static'])
  const busybox = '/bin/busybox'
  const files: Record<string, string | { copy: string } | { link: string }> = {
    'bin/busybox': { copy: busybox },
    'bin/sh': { link: 'busybox' },
    'sbin/init': rootInitScript(opts),
    // systemd's switch-root (dracut) wants an OS tree: os-release
    'etc/os-release': 'NAME="modload peers root"\nID=modload-peers-root\n',
    'etc/fstab': '',
  }
  const h = createHash('sha256').update(`${layoutVersion}\0${rootUuid}\0`)
  for (const [p, what] of Object.entries(files)) {
    h.update(`${p}\0`)
    if (typeof what === 'string') h.update(what)
    else if ('copy' in what) h.update(await fs.readFile(what.copy))
    else h.update(`-> ${what.link}`)
  }
  const out = path.join(peersDir, `root-${h.digest('hex').slice(0, 16)}.raw`)
  if (await fs.stat(out).catch(() => undefined)) return { path: out, uuid: rootUuid }
  await fs.mkdir(peersDir, { recursive: true })
  return withLock(path.join(peersDir, 'root.lock'), async () => {
    if (await fs.stat(out).catch(() => undefined)) return { path: out, uuid: rootUuid }
    const stage = await fs.mkdtemp(path.join(peersDir, 'root-stage-'))
    try {
      for (const d of ['bin', 'sbin', 'etc', 'dev', 'proc', 'sys', 'run', 'tmp']) await fs.mkdir(path.join(stage, d), { recursive: true })
      for (const [p, what] of Object.entries(files)) {
        const dest = path.join(stage, p)
        if (typeof what === 'string') await fs.writeFile(dest, what, { mode: p.startsWith('sbin/') ? 0o755 : 0o644 })
        else if ('copy' in what) await fs.copyFile(what.copy, dest)
        else await fs.symlink(what.link, dest)
      }
      await fs.chmod(path.join(stage, 'bin/busybox'), 0o755)
      await fs.chmod(path.join(stage, 'sbin/init'), 0o755)
      const tmp = `${out}.${process.pid}.tmp`
      const mkfs = (await findCommand('mkfs.ext4')) ?? 'mkfs.ext4'
      await run(mkfs, ['-q', '-F', '-d', stage, '-L', 'peers-root', '-U', rootUuid, tmp, '32M'])
      await fs.rename(tmp, out)
      process.stderr.write(`peers: root disk ${path.basename(out)}${kernel ? ` (for ${kernel.version})` : ''}\n`)
      return { path: out, uuid: rootUuid }
    } finally {
      await fs.rm(stage, { recursive: true, force: true })
    }
  })
}

/** The root init's marker in console lines: its uptime and idle seconds, or undefined. Pure. */
export function parseRootMarker(lines: readonly string[]): { uptime: number; idle: number; pid: number } | undefined {
  for (const line of lines) {
    const m = /peers: root uptime=(\d+(?:\.\d+)?) idle=(\d+(?:\.\d+)?) pid=(\d+)/.exec(line)
    if (m) return { uptime: Number(m[1]), idle: Number(m[2]), pid: Number(m[3]) }
  }
  return undefined
}

export interface RootBootOptions {
  kernel: Kernel
  /** the initramfs */
  image: string
  /** a machine of qemu/machines.ts; the root disk replaces its first disk */
  machine: string
  /** the id of the machine's disk the root disk replaces instead of its first */
  rootDisk?: string
  /** added to `root=UUID=...` on the kernel command line */
  append?: string
  /** default 300 s: dracut's systemd is slow under TCG */
  timeoutMs?: number
  memMiB?: number
  /** the root's init lists /proc/modules (RootBoot.modules) */
  listModules?: boolean
  /** more QEMU arguments (benchmarks: `-icount shift=0`) */
  qemuArgs?: readonly string[]
  /** a console line after which the boot cannot reach the root: QEMU is stopped there
   * (RootBoot.gaveUp) instead of waiting out the image's own timeout */
  giveUp?: RegExp
}

export interface RootBoot {
  /** the root's init printed its marker */
  reached: boolean
  /** guest seconds from kernel start to the root's init (its /proc/uptime) */
  uptime?: number
  /** of those, seconds the guest CPU was idle */
  idle?: number
  /** the root init's pid (1 when the initramfs handed over properly) */
  pid?: number
  /** with listModules: the live modules the root's init saw, sorted */
  modules?: string[]
  console: string
  result: BootResult
  /** stopped at a `giveUp` line */
  gaveUp: boolean
}

/** `use` with a copy of the root disk (a tool may fsck or replay the journal on it, and two
 * boots must not share one file), removed afterwards. */
export async function withRootDiskCopy<T>(disk: RootDisk, use: (copy: string) => Promise<T>): Promise<T> {
  await fs.mkdir(tmpDir, { recursive: true })
  const copy = path.join(tmpDir, `peers-root-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.raw`)
  await run('cp', ['--sparse=always', disk.path, copy])
  try {
    return await use(copy)
  } finally {
    await fs.rm(copy, { force: true })
  }
}

/** Boot `image` with the root disk on `machine` until the root's init powers off, on a copy of
 * the disk (withRootDiskCopy). */
export async function bootToRoot(opts: RootBootOptions): Promise<RootBoot> {
  const disk = await ensureRootDisk(opts.kernel, { listModules: opts.listModules })
  const machine = getMachine(opts.machine)
  const target = rootTarget(machine, opts.rootDisk)
  if (!target) throw new Error(`machine ${machine.name} has no disk to put the root on`)
  return withRootDiskCopy(disk, async (copy) => {
    const stop = new AbortController()
    let gaveUp = false
    const result = await boot({
      onLine: opts.giveUp
        ? (line) => {
            if (!gaveUp && opts.giveUp?.test(line)) {
              gaveUp = true
              stop.abort()
            }
          }
        : undefined,
      signal: stop.signal,
      kernel: opts.kernel,
      initrd: opts.image,
      machine: opts.machine,
      append: [`root=UUID=${disk.uuid}`, opts.append].filter(Boolean).join(' '),
      disks: [{ id: target.id, file: copy }],
      timeoutMs: opts.timeoutMs ?? 300_000,
      memMiB: opts.memMiB,
      qemuArgs: opts.qemuArgs ? [...opts.qemuArgs] : undefined,
    })
    const m = parseRootMarker(result.lines)
    return { reached: m !== undefined, uptime: m?.uptime, idle: m?.idle, pid: m?.pid, modules: opts.listModules ? parseRootModules(result.lines) : undefined, console: result.console, result, gaveUp }
  })
}
