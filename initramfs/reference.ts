// Reference initramfs images built from Debian's own tools, to compare modload's coldplug with
// (test/coldplug-compare.test.ts) and to time it against (bench/boot.ts). Three loaders, one
// kernel module tree, the same console markers as modload's /init:
//   udev          systemd-udevd (Debian's `udev` package) with 80-drivers.rules, `udevadm
//                 trigger` for subsystems and devices, `udevadm settle`: what a Debian
//                 initramfs does to load drivers.
//   kmod-loop     a busybox sh loop running kmod's `modprobe -a -b` over every
//                 /sys/devices/**/modalias until /proc/modules stops growing.
//   busybox-loop  the same loop with busybox's own modprobe.
// Every image has busybox-static as /bin/sh and the applets the script uses, /sbin/modprobe
// (kmod's, or busybox's in busybox-loop: the kernel's own request_module() runs it), the shared
// libraries the binaries need (found with the host's ldd), and the kernel's whole
// lib/modules/<version> tree with the depmod indexes ensureKernel made.
//
// Markers (console, prefix `modload: `): `start uptime=S` (first line, once /proc is up),
// `settled uptime=S` (coldplug finished), `live NAME` for each /proc/modules line, `halt
// uptime=S`, then `poweroff -f`. The loops also print `passes=N`.
//
// Images are cached under .cache/reference, named by a hash of everything staged (script,
// binaries, libraries, rules) plus the kernel version; the module tree is appended to the
// cpio stream straight from the kernel cache (a second archive in the same stream: the kernel
// unpacks concatenated archives) so it is never copied on disk.
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { ensureDebianPackages } from '../qemu/deps.js'
import { run, query } from '../qemu/exec.js'
import type { Kernel } from '../qemu/kernels.js'
import { withLock } from '../qemu/lock.js'
import { cacheDir } from '../qemu/paths.js'

export const referenceKinds = ['udev', 'kmod-loop', 'busybox-loop'] as const
export type ReferenceKind = (typeof referenceKinds)[number]

export const referenceDescriptions: Readonly<Record<ReferenceKind, string>> = {
  udev: 'Debian udev + kmod (systemd-udevd, udevadm trigger + settle)',
  'kmod-loop': "rescan loop with kmod's modprobe -a -b",
  'busybox-loop': "rescan loop with busybox's modprobe",
}

/** Bumped when the image layout changes in a way the staged bytes do not show. */
const layoutVersion = 2

export const referenceDir: string = path.join(cacheDir, 'reference')
const debsDir = path.join(referenceDir, 'debs')

/** The applets the /init scripts use, as /bin symlinks to busybox. */
const applets = ['sh', 'mount', 'mkdir', 'cat', 'find', 'sort', 'wc', 'poweroff', 'sleep', 'ls', 'echo', 'uname'] as const

// Shell helpers shared by every script. `mark` reads the guest clock each time it is called.
const prologue = `#!/bin/sh
# modload reference /init (initramfs/reference.ts): KIND
export PATH=/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=0755 tmpfs /run
exec </dev/console >/dev/console 2>&1
up() { read -r u i </proc/uptime; echo "$u idle=$i"; }
echo "modload: start uptime=$(up)"
`

const epilogue = `echo "modload: settled uptime=$(up)"
while read -r name _; do echo "modload: live $name"; done </proc/modules
echo "modload: halt uptime=$(up)"
poweroff -f
sleep 60
`

// Rescan until a pass adds nothing to /proc/modules. Both modprobes take every modalias at once
// with -a; -q hides "not found" for the many aliases no module matches. The full path matters:
// Debian's busybox-static is a "standalone shell" that runs its own applet for a bare
// `modprobe` whatever PATH says, which silently made the kmod loop a busybox loop.
const loop = `prev=$(wc -l </proc/modules)
passes=0
while :; do
  passes=$((passes + 1))
  /sbin/modprobe -a -b -q $(cat $(find /sys/devices -name modalias) 2>/dev/null | sort -u) 2>/dev/null
  cur=$(wc -l </proc/modules)
  [ "$cur" = "$prev" ] && break
  prev=$cur
done
echo "modload: passes=$passes"
`

const udev = `mkdir -p /run/udev
/lib/systemd/systemd-udevd --daemon --resolve-names=never
udevadm trigger --action=add --type=subsystems
udevadm trigger --action=add --type=devices
udevadm settle --timeout=120
`

/** The /init script of a reference image. Pure. */
export function initScript(kind: ReferenceKind): string {
  const body = kind === 'udev' ? udev : loop
  return prologue.replace('KIND', kind) + body + epilogue
}

/** Absolute paths of the shared objects `ldd` lists for `binary` (the dynamic loader included). */
export function parseLdd(text: string): string[] {
  const out: string[] = []
  for (const line of text.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line)
    if (m) out.push(m[1])
    else if (/not found/.test(line)) throw new Error(`ldd: ${line.trim()}`)
  }
  return out
}

/** The newest udev_*.deb in the download cache, fetched with `apt-get download` if none. */
async function udevDeb(): Promise<string> {
  await fs.mkdir(debsDir, { recursive: true })
  return withLock(path.join(referenceDir, 'debs.lock'), async () => {
    const have = async () => (await fs.readdir(debsDir)).filter((f) => /^udev_.*\.deb$/.test(f)).sort()
    if ((await have()).length === 0) {
      const r = await run('apt-get', ['download', 'udev'], { cwd: debsDir, nothrow: true })
      if (r.exitCode !== 0) {
        await run('apt-get', ['update'], { passthrough: true })
        await run('apt-get', ['download', 'udev'], { cwd: debsDir })
      }
    }
    const debs = await have()
    if (debs.length === 0) throw new Error(`apt-get download udev left no udev_*.deb in ${debsDir}`)
    return path.join(debsDir, debs[debs.length - 1])
  })
}

/** Unpack `deb` once under .cache/reference/debs/<name>/ and return that root. */
async function unpacked(deb: string): Promise<string> {
  const dir = deb.replace(/\.deb$/, '')
  const done = path.join(dir, '.complete')
  try {
    await fs.access(done)
    return dir
  } catch {
    // not yet
  }
  await fs.rm(dir, { recursive: true, force: true })
  await run('dpkg', ['-x', deb, dir])
  await fs.writeFile(done, '')
  return dir
}

interface Staged {
  /** staging directory (removed by the caller) */
  dir: string
  /** hash of every staged file's path, mode and bytes */
  digest: string
}

async function copyFile(src: string, dest: string, mode = 0o755): Promise<void> {
  await fs.mkdir(path.dirname(dest), { recursive: true })
  await fs.copyFile(await fs.realpath(src), dest)
  await fs.chmod(dest, mode)
}

/** Copy `binary` to `dest` inside `stage`, with the shared libraries ldd lists at their paths. */
async function addBinary(stage: string, binary: string, dest: string): Promise<void> {
  await copyFile(binary, path.join(stage, dest))
  const ldd = await run('ldd', [binary], { nothrow: true })
  // a static binary: ldd says "not a dynamic executable" and exits 1
  if (ldd.exitCode !== 0) return
  for (const lib of parseLdd(ldd.stdout.toString())) {
    const target = path.join(stage, lib)
    try {
      await fs.access(target)
    } catch {
      await copyFile(lib, target)
    }
  }
}

async function digestTree(dir: string): Promise<string> {
  const h = createHash('sha256')
  const walk = async (rel: string): Promise<void> => {
    const entries = (await fs.readdir(path.join(dir, rel), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))
    for (const e of entries) {
      const p = path.join(rel, e.name)
      h.update(`${p}\0`)
      if (e.isDirectory()) await walk(p)
      else if (e.isSymbolicLink()) h.update(`-> ${await fs.readlink(path.join(dir, p))}\0`)
      else {
        h.update(`${(await fs.stat(path.join(dir, p))).mode}\0`)
        h.update(await fs.readFile(path.join(dir, p)))
      }
    }
  }
  await walk('.')
  return h.digest('hex')
}

async function stage(kind: ReferenceKind, kernel: Kernel): Promise<Staged> {
  const dir = await fs.mkdtemp(path.join(referenceDir, `stage-${kind}-`))
  for (const d of ['proc', 'sys', 'dev', 'run', 'tmp', 'sbin', `lib/modules`]) await fs.mkdir(path.join(dir, d), { recursive: true })
  await fs.writeFile(path.join(dir, 'init'), initScript(kind), { mode: 0o755 })
  await fs.chmod(path.join(dir, 'init'), 0o755)
  await copyFile('/bin/busybox', path.join(dir, 'bin/busybox'))
  for (const a of applets) await fs.symlink('busybox', path.join(dir, 'bin', a))
  if (kind === 'busybox-loop') {
    await fs.symlink('/bin/busybox', path.join(dir, 'sbin/modprobe'))
  } else {
    // kmod dispatches on its invoked name, as Debian's /sbin/modprobe symlink does
    await addBinary(dir, '/bin/kmod', 'bin/kmod')
    await fs.symlink('/bin/kmod', path.join(dir, 'sbin/modprobe'))
  }
  if (kind === 'udev') {
    const root = await unpacked(await udevDeb())
    await addBinary(dir, path.join(root, 'bin/udevadm'), 'bin/udevadm')
    await fs.mkdir(path.join(dir, 'lib/systemd'), { recursive: true })
    // systemd-udevd is udevadm under another name, as in the package
    await fs.symlink('/bin/udevadm', path.join(dir, 'lib/systemd/systemd-udevd'))
    await copyFile(path.join(root, 'lib/udev/rules.d/80-drivers.rules'), path.join(dir, 'lib/udev/rules.d/80-drivers.rules'), 0o644)
    await fs.writeFile(path.join(dir, 'udev-package'), `${path.basename(root)}\n`)
  }
  await fs.writeFile(path.join(dir, 'kernel-version'), `${kernel.version}\n`)
  return { dir, digest: await digestTree(dir) }
}

export interface ReferenceImageOptions {
  kernel: Kernel
  kind: ReferenceKind
}

/**
 * The lz4 initramfs of reference loader `kind` for `kernel` (absolute path), built on first
 * use. Installs busybox-static, kmod, cpio and lz4 on the host if missing.
 */
export async function ensureReferenceImage(opts: ReferenceImageOptions): Promise<string> {
  const { kernel, kind } = opts
  await ensureDebianPackages(['busybox-static', 'kmod', 'cpio', 'lz4'])
  await fs.mkdir(referenceDir, { recursive: true })
  const staged = await stage(kind, kernel)
  try {
    const key = createHash('sha256').update(`${layoutVersion}\0${kernel.version}\0${staged.digest}`).digest('hex').slice(0, 16)
    const out = path.join(referenceDir, `${kind}-${kernel.version}-${key}.img`)
    try {
      await fs.access(out)
      return out
    } catch {
      // build it
    }
    const tmp = `${out}.${process.pid}.tmp`
    const cpio = 'cpio -o -H newc --reproducible -R 0:0 --quiet'
    const script = [
      'set -eo pipefail',
      `{ (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | ${cpio})`,
      `  (cd "$2" && find "lib/modules/$3" | LC_ALL=C sort | ${cpio}); } | lz4 -q -l -1 -c > "$4"`,
    ].join('\n')
    await run('bash', ['-c', script, 'bash', staged.dir, kernel.root, kernel.version, tmp])
    await fs.rename(tmp, out)
    return out
  } finally {
    await fs.rm(staged.dir, { recursive: true, force: true })
  }
}

/** Installed versions of the host packages a reference image copies, for reports. */
export async function referenceToolVersions(): Promise<Record<string, string>> {
  const v = async (p: string) => (await query('dpkg-query', ['-W', '-f=${Version}', p])).trim()
  const udev = path.basename(await udevDeb()).replace(/^udev_/, '').replace(/_amd64\.deb$/, '')
  return { udev, kmod: await v('kmod'), 'busybox-static': await v('busybox-static') }
}
