// The fault matrix (issue 11; the table with what each boot showed is docs/reliability.md):
// misbehaving test modules (test/modules/*, built against the 6.1 kernel's headers), broken
// images and broken roots, with modload as /init on the virtio machine next to the real virtio
// drivers. One boot per letter, several faults per boot:
//   A. init fails (EIO), sleeps 2 s, never returns, gets a malformed parameter, needs a symbol
//      nobody exports: each is reported with its errno and what it means, the hang at
//      modload.timeout, and the machine still halts with every virtio driver live;
//   B. init oopses (NULL dereference in the thread that called finit_module): reported as an
//      oops, not as a hang, and the machine still halts with every virtio driver live;
//   C. module.sig_enforce=1 and an unsigned module: EKEYREJECTED, explained; Debian's own
//      (signed) virtio drivers still load;
//   D. a broken image: module files missing, truncated, not ELF; a modules.dep line that is no
//      entry, a cycle, an entry out of the module directory; a truncated modules.dep.bin;
//      nonsense and a softdep cycle in modprobe.d;
//   E. a loop of module requests (modload_reqloop <-> partner), garbage in modload's options,
//      and the root disk hot-plugged through the QEMU monitor 11 s after init began waiting;
//   F. a root that fails to mount (wrong rootfstype, then a corrupt superblock);
//   G. a root whose /sbin/init is not executable;
//   H. /run full before init starts (an rdinit= program fills a tiny tmpfs), and a hung init
//      before the root hand-over;
//   I. (6.12, in-kernel xz) a truncated .ko.xz, a foreign file named .ko.xz, a truncated .bin;
//   J. (6.12) the request loop and a hung init before the root hand-over.
// `loglevel=7` puts the kernel's own messages (the module's pr_info, "Unknown symbol", the
// Oops) and modload's per-module lines (kmsg level 6) on the console.
import t, { type Test } from 'tap'
import path from 'node:path'
import net from 'node:net'
import { execFileSync } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { writeOverlay } from '../initramfs/overlay.js'
import { ensureRootDisk, parseRootMarker, rootUuid } from '../initramfs/peers.js'
import { cacheDir } from '../qemu/paths.js'
import { ensureExecutable, ensureImage } from '../qemu/artefacts.js'
import { boot, markers, type BootResult } from '../qemu/boot.js'
import { ensureHostTools } from '../qemu/deps.js'
import { ensureKernel, type Kernel } from '../qemu/kernels.js'
import { ensureTestRoot, type TestRoot } from '../qemu/test-modules.js'

const VIRTIO = ['virtio_pci', 'virtio_net', 'virtio_blk', 'virtio_rng']
const FAULTS = ['modload_fail', 'modload_sleep', 'modload_hang', 'modload_badparam', 'modload_unknown_symbol', 'modload_oops']
const TIMEOUT_S = 8

let kernel: Kernel
let root: TestRoot
let initrd: string
t.before(async () => {
  await ensureHostTools()
  await ensureExecutable()
  kernel = await ensureKernel('6.1')
  root = await ensureTestRoot(kernel, { name: 'faults' })
  initrd = await ensureImage({ kernel: { ...kernel, root: root.root }, name: `faults-${path.basename(root.root)}`, modules: [...VIRTIO, ...FAULTS] })
})

interface Seen {
  /** modload's lines, once each (a line can come both from us and from the kernel's echo of kmsg) */
  modload: string[]
  live: Set<string>
  /** the whole console, printk timestamps cut off */
  console: string[]
}

function show(t: Test, r: BootResult): Seen {
  const strip = (l: string): string => l.replace(/^\[\s*\d+\.\d+\] /, '')
  const modload = [...new Set(markers(r.lines).map((l) => strip(l.slice('modload: '.length))))]
  const live = new Set(modload.filter((l) => l.startsWith('live ')).map((l) => l.slice(5)))
  t.comment(modload.filter((l) => !l.startsWith('live ') && !l.startsWith('no driver for ')).join('\n'))
  // what the kernel itself said about the test modules
  t.comment(r.lines.filter((l) => !l.includes('modload:') && /modload_|BUG:|Oops|RIP:|Tainted|module is rejected/.test(l)).join('\n'))
  if (r.timedOut || r.panicked) t.comment(r.lines.slice(-60).join('\n'))
  return { modload, live, console: r.lines.map(strip) }
}

/** Every virtio driver live, and the machine powered off by PID 1 itself. */
function healthy(t: Test, r: BootResult, s: Seen): void {
  t.notOk(r.timedOut, 'powered off by itself')
  t.notOk(r.panicked, 'no kernel panic (PID 1 never exited)')
  t.ok(s.modload.some((l) => /^halt uptime=/.test(l)), 'the halt marker: init got past coldplug')
  for (const m of VIRTIO) t.ok(s.live.has(m), `${m} live, as without the fault`)
  t.ok(s.modload.includes('block vda'), '/dev/vda exists')
}

const line = (s: Seen, prefix: string): string => s.modload.find((l) => l.startsWith(prefix)) ?? ''

t.test('A: failing, slow, hung, badly parametrised and unresolvable inits', async (t) => {
  const load = ['modload_fail', 'modload_sleep', 'modload_hang', 'modload_badparam', 'modload_unknown_symbol']
  const append = `modload.halt modload.timeout=${TIMEOUT_S} modload.load=${load.join(',')} modload_badparam.count=notanumber modload_sleep.ms=2000 loglevel=7`
  const r = await boot({ kernel, initrd, machine: 'virtio', append, timeoutMs: 300_000 })
  const s = show(t, r)
  healthy(t, r, s)

  t.match(line(s, 'report failed modload_fail: '), /^report failed modload_fail: EIO \(Input\/output error\): .*init.* \[.*modload_fail\.ko(\.zst)?\]$/, 'EIO, with its text and a hint')
  t.notOk(s.live.has('modload_fail'), 'modload_fail is not live')

  t.ok(s.console.some((l) => l.includes("modload_badparam: `notanumber' invalid for parameter `count'")), 'the kernel names the bad parameter')
  t.match(line(s, 'report failed modload_badparam: '), /^report failed modload_badparam: EINVAL \(Invalid parameters\): a parameter given to the module .* is unknown or malformed/, 'EINVAL, explained as a parameter problem')
  t.notOk(s.live.has('modload_badparam'), 'modload_badparam is not live')

  t.ok(s.console.some((l) => l.includes('modload_unknown_symbol: Unknown symbol modload_no_such_symbol')), 'the kernel names the missing symbol')
  t.match(line(s, 'report failed modload_unknown_symbol: '), /^report failed modload_unknown_symbol: ENOENT \(No such file or directory\): either a symbol it needs is exported by no loaded module/, 'ENOENT, with both of its causes')
  t.notOk(s.live.has('modload_unknown_symbol'), 'modload_unknown_symbol is not live')

  t.ok(s.live.has('modload_sleep'), 'modload_sleep is live')
  const slept = /^loaded modload_sleep ms=(\d+\.\d)$/.exec(line(s, 'loaded modload_sleep '))
  t.ok(slept, 'its load is logged')
  // msleep sleeps at least as long as asked: a lower bound, not a timing
  t.ok(Number(slept?.[1]) >= 2000, `the load took the 2 s its init sleeps (${slept?.[1]} ms)`)

  const hung = /^report hung modload_hang: init still running after (\d+\.\d) s/.exec(line(s, 'report hung modload_hang'))
  t.ok(hung, 'modload_hang is reported as hung')
  const stopped = /^report: stopped waiting after (\d+\.\d) s \(modload\.timeout\)$/.exec(line(s, 'report: stopped waiting after '))
  t.ok(stopped, 'coldplug stopped waiting at modload.timeout')
  t.ok(Number(stopped?.[1]) >= TIMEOUT_S, `after the ${TIMEOUT_S} s asked for (${stopped?.[1]} s)`)
  t.notOk(s.modload.some((l) => l.startsWith('report oops')), 'a hang is not an oops')
  t.match(line(s, 'coldplug done'), / failed=3 hung=1 /, 'three failures and one hang counted')
  t.ok(s.modload.indexOf(line(s, 'coldplug done')) < s.modload.findIndex((l) => l.startsWith('halt uptime=')), 'the halt comes after coldplug gave up on the hang')
})

t.test('B: an init that oopses', async (t) => {
  const append = `modload.halt modload.timeout=${TIMEOUT_S} modload.load=modload_oops loglevel=7`
  const r = await boot({ kernel, initrd, machine: 'virtio', append, timeoutMs: 300_000 })
  const s = show(t, r)
  healthy(t, r, s)
  t.ok(s.console.some((l) => /BUG: kernel NULL pointer dereference/.test(l)), 'the kernel oopsed')
  t.ok(s.console.some((l) => /RIP: \S+:modload_oops_init\b/.test(l)), 'in modload_oops_init')
  t.match(line(s, 'report oops modload_oops: '), /^report oops modload_oops: the kernel oopsed in its init \(see dmesg\)/, 'reported as an oops, naming the module')
  t.notOk(s.modload.some((l) => l.startsWith('report hung modload_oops')), 'not as a hung init')
  // it stays in /proc/modules in state Loading until reboot: not live
  t.notOk(s.live.has('modload_oops'), 'modload_oops is not live')
  t.match(line(s, 'coldplug done'), / failed=1 hung=0 /, 'counted as a failure, not a hang')
})

t.test('C: module.sig_enforce=1 and an unsigned module', async (t) => {
  const append = 'modload.halt module.sig_enforce=1 modload.load=modload_fail loglevel=7'
  const r = await boot({ kernel, initrd, machine: 'virtio', append, timeoutMs: 300_000 })
  const s = show(t, r)
  healthy(t, r, s)
  t.ok(s.console.some((l) => /Loading of unsigned module is rejected/.test(l)), 'the kernel rejects the unsigned module')
  t.notOk(s.console.some((l) => l.includes('modload_fail: failing with -EIO')), 'its init never ran')
  t.match(line(s, 'report failed modload_fail: '), /^report failed modload_fail: EKEYREJECTED \(Key was rejected by service\): .*unsigned/, 'EKEYREJECTED, explained')
  t.match(line(s, 'coldplug done'), / failed=1 hung=0 /, 'the one failure')
})

// ---------------------------------------------------------------------------------------------
// The rest of the matrix (issue 11). Broken images are made by appending a small uncompressed
// cpio archive to a good image: the kernel unpacks the archives in order and a later entry
// replaces an earlier one, so a file of the image can be swapped for a truncated or foreign one
// without teaching mkinitramfs to write broken images.

const KVER = (): string => kernel.version
const work = path.join(cacheDir, 'tmp', `faults-${process.pid}`)
t.teardown(() => rmSync(work, { recursive: true, force: true }))

/** `base` with an overlay archive of `files` (path in the image -> contents) appended. */
function overlay(base: string, name: string, files: Record<string, Uint8Array | string>, mode: Record<string, number> = {}): string {
  mkdirSync(work, { recursive: true })
  const out = path.join(work, `${name}.img`)
  writeOverlay(base, out, files, mode)
  return out
}

/** A copy of the peers' ext4 root disk (its /sbin/init prints rootMarker and powers off). */
async function rootDiskCopy(name: string): Promise<string> {
  const disk = await ensureRootDisk(kernel)
  mkdirSync(work, { recursive: true })
  const copy = path.join(work, `${name}.raw`)
  execFileSync('cp', ['--sparse=always', disk.path, copy])
  return copy
}

const ROOT_FS = ['ext4', 'crc32c_generic']

t.test('D: a broken image: files missing, truncated, not ELF; modules.dep broken and cyclic; .bin truncated; nonsense modprobe.d', async (t) => {
  const mods = ['modload_fail', 'modload_badparam', 'modload_hang', 'modload_sleep', 'modload_unknown_symbol']
  // modules as the tree has them: the faults below replace files and modules.dep lines by path
  const base = await ensureImage({ kernel: { ...kernel, root: root.root }, name: `faults-broken-${path.basename(root.root)}`, modules: [...VIRTIO, ...mods], moduleFiles: 'archive' })
  const mdir = `lib/modules/${KVER()}`
  const fail = readFileSync(root.modules.modload_fail)
  // the kernel root's whole modules.dep (the image's trimmed one is a subset of it), edited
  const dep = readFileSync(path.join(root.modulesDir, 'modules.dep'), 'latin1')
    .replace(/^extra\/modload_hang\.ko:/m, 'extra/gone/modload_hang.ko:')
    .replace(/^extra\/modload_sleep\.ko:.*$/m, 'extra/modload_sleep.ko: extra/modload_unknown_symbol.ko')
    .replace(/^extra\/modload_unknown_symbol\.ko:.*$/m, 'extra/modload_unknown_symbol.ko: extra/modload_sleep.ko')
  const depText = `${dep}this line is not a dependency line\n../../../../tmp/modload_evil.ko:\n`
  const depBin = readFileSync(path.join(root.modulesDir, 'modules.dep.bin'))
  const initrd = overlay(base, 'broken', {
    [`${mdir}/extra/modload_fail.ko`]: fail.subarray(0, Math.floor(fail.length / 2)),
    [`${mdir}/extra/modload_badparam.ko`]: '#!/bin/sh\necho this is not a kernel module\n',
    [`${mdir}/modules.dep`]: depText,
    [`${mdir}/modules.dep.bin`]: depBin.subarray(0, Math.floor(depBin.length * 0.4)),
    // a real module outside the module directory, named by a modules.dep line
    'tmp/modload_evil.ko': readFileSync(root.modules.modload_sleep),
    'etc/modprobe.d/nonsense.conf': [
      'options',
      'alias',
      'alias only-one-word',
      'softdep virtio_net pre:',
      'softdep virtio_net pre: virtio_rng',
      'softdep virtio_rng pre: virtio_net',
      'blacklist',
      'options virtio_net ==== \x01\x7f',
      'frobnicate virtio_net now',
      'include /etc/passwd',
      '\xff\xfe\x00garbage',
      '',
    ].join('\n'),
  })
  const append = `modload.halt modload.timeout=${TIMEOUT_S * 2} modload.load=modload_fail,modload_badparam,modload_hang,modload_sleep,modload_evil loglevel=7`
  const r = await boot({ kernel, initrd, machine: 'virtio', append, timeoutMs: 300_000 })
  const s = show(t, r)
  healthy(t, r, s)
  t.match(line(s, 'index '), /format=text/, 'the text index is used instead of the truncated modules.dep.bin')
  t.ok(s.modload.some((l) => /modules\.dep\.bin.*(text|instead)/.test(l)), 'and the switch is said')
  t.ok(s.modload.some((l) => /modules\.dep:\d+: .*this line is not a dependency line/.test(l)), 'the broken modules.dep line is named with its line number')
  t.match(line(s, 'report failed modload_hang: '), /modload_hang.*(missing|ENOENT).*extra\/gone\/modload_hang\.ko/, 'a module file missing from the image: named, with its path')
  t.match(line(s, 'report failed modload_fail: '), /^report failed modload_fail: ENOEXEC \(Invalid module format\)/, 'a truncated module: ENOEXEC')
  t.match(line(s, 'report failed modload_badparam: '), /^report failed modload_badparam: ENOEXEC \(Invalid module format\): .*not an ELF/, 'not an ELF file: ENOEXEC, said so')
  t.match(line(s, 'report failed modload_sleep: '), /cycl/, 'the cyclic modules.dep: reported as a cycle')
  t.notOk(s.console.some((l) => l.includes('modload_sleep: sleeping')), 'the module outside the module directory never ran')
  t.match(line(s, 'report failed modload_evil: '), /outside the module directory/, 'a modules.dep path outside the module directory is refused, named')
  t.ok(s.modload.some((l) => /nonsense\.conf:\d+: /.test(l)), 'the nonsense modprobe.d lines are named with file:line')
  t.ok(s.live.has('virtio_net') && s.live.has('virtio_rng'), 'the softdep cycle does not keep virtio_net and virtio_rng out')
  t.notOk(s.modload.some((l) => l.startsWith('report hung ')), 'nothing hung')
  t.notOk(s.modload.some((l) => l.startsWith('report: stopped waiting')), 'coldplug settled before modload.timeout')
})

t.test('E: a module request loop, garbage in modload options, and a root disk hot-plugged after 10 s', async (t) => {
  const initrd = await ensureImage({ kernel: { ...kernel, root: root.root }, name: `faults-root-${path.basename(root.root)}`, modules: [...VIRTIO, ...ROOT_FS, 'modload_reqloop', 'modload_reqloop_partner', 'modload_hang'] })
  const disk = await rootDiskCopy('late')
  mkdirSync(work, { recursive: true })
  const monitor = path.join(work, 'late.monitor')
  let plugged = -1
  let waitingSeen = -1
  const plug = (): void => {
    const c = net.createConnection(monitor)
    c.on('error', (err) => t.comment(`monitor: ${err.message}`))
    c.on('connect', () => {
      c.write(`drive_add 0 if=none,id=late,format=raw,file=${disk}\n`)
      setTimeout(() => c.end('device_add virtio-blk-pci,drive=late,id=latedisk\n'), 500)
      plugged = Date.now()
    })
  }
  const garbage = 'modload.timeout=soon modload.quiet_ms=-7 modload.jobs=x modload.maxjobs=99999999999 modload.load=,,modload_reqloop,,../../x,/etc/passwd, modload.handover=sideways modload.debug=maybe modload.=1 =modload modload.onfail'
  const r = await boot({
    kernel,
    initrd,
    machine: 'virtio',
    append: `root=UUID=${rootUuid} ${garbage} loglevel=7`,
    timeoutMs: 300_000,
    qemuArgs: ['-monitor', `unix:${monitor},server=on,wait=off`],
    onLine: (l) => {
      if (waitingSeen < 0 && l.includes('modload: root: waiting for')) {
        waitingSeen = Date.now()
        setTimeout(plug, 11_000)
      }
    },
  })
  const s = show(t, r)
  t.notOk(r.panicked, 'no kernel panic (PID 1 never exited)')
  t.ok(waitingSeen > 0, 'init waited for the root device')
  t.ok(plugged > 0 && plugged - waitingSeen >= 10_000, 'the root disk was plugged in 10 s or more later')
  t.ok(parseRootMarker(r.lines), "the real root's init was reached")
  t.ok(s.console.some((l) => /modload_reqloop_partner: request_module\(modload_reqloop\) returned 0/.test(l)), 'the partner\'s request for modload_reqloop is answered (it is coming, and stays so: a loop)')
  t.ok(s.console.some((l) => /modload_reqloop: request_module\(modload_reqloop_partner\) returned 0/.test(l)), 'and modload_reqloop\'s request for its partner succeeds')
  // modload.debug=maybe reads as on: the answers to the kernel are on the console
  t.ok(s.modload.some((l) => /^kernel request modload_reqloop: ok \(modload_reqloop is still being loaded after 5000 ms: answered 0/.test(l)), 'answered 0 after waiting 5 s for it, said so')
  t.ok(s.modload.some((l) => /^loaded modload_reqloop\b/.test(l)) || !s.modload.some((l) => /modload_reqloop/.test(l) && /failed|hung/.test(l)), 'modload_reqloop loaded')
  t.notOk(s.modload.some((l) => l.startsWith('report hung ')), 'nothing hung')
  t.ok(s.modload.some((l) => /modload\.timeout.*soon|soon.*modload\.timeout/.test(l)), 'the garbage modload.timeout is named')
})

t.test('F: a root filesystem that fails to mount: wrong type, then a corrupt superblock', async (t) => {
  const initrd = await ensureImage({ kernel: { ...kernel, root: root.root }, name: `faults-rootfs-${path.basename(root.root)}`, modules: [...VIRTIO, ...ROOT_FS, 'vfat', 'nls_cp437', 'nls_ascii'] })
  const disk = await rootDiskCopy('badsb')
  // keep the magic and the UUID (blkid still names it ext4 by UUID) and break the block size:
  // s_log_block_size, 4 bytes at 24 into the superblock (which starts at 1024)
  const fd = openSync(disk, 'r+')
  writeSync(fd, Buffer.from([20, 0, 0, 0]), 0, 4, 1024 + 24)
  closeSync(fd)
  const r = await boot({
    kernel,
    initrd,
    machine: 'virtio',
    append: `root=UUID=${rootUuid} rootfstype=vfat,ext4 modload.onfail=poweroff loglevel=7`,
    disks: [{ id: 'vd0', file: disk }],
    timeoutMs: 300_000,
  })
  const s = show(t, r)
  t.notOk(r.timedOut, 'powered off by itself (modload.onfail=poweroff)')
  t.notOk(r.panicked, 'no kernel panic (PID 1 never exited)')
  for (const m of VIRTIO) t.ok(s.modload.some((l) => l === `loaded ${m}` || l.startsWith(`loaded ${m} `)) || !s.modload.some((l) => l.includes(`failed ${m}`)), `${m} not failed`)
  const err = line(s, 'root: error: ')
  t.match(err, /vfat/, 'the wrong type is named')
  t.match(err, /ext4/, 'and so is ext4, which the corrupt superblock failed')
  t.notOk(parseRootMarker(r.lines), 'no root init ran')
})

t.test('G: a root whose /sbin/init is not executable', async (t) => {
  const initrd = await ensureImage({ kernel: { ...kernel, root: root.root }, name: `faults-root-${path.basename(root.root)}`, modules: [...VIRTIO, ...ROOT_FS, 'modload_reqloop', 'modload_reqloop_partner', 'modload_hang'] })
  const disk = await rootDiskCopy('noexec')
  execFileSync(debugfs(), ['-w', '-R', 'sif /sbin/init mode 0100644', disk], { stdio: 'pipe' })
  const r = await boot({ kernel, initrd, machine: 'virtio', append: `root=UUID=${rootUuid} init=/sbin/init modload.onfail=poweroff loglevel=7`, disks: [{ id: 'vd0', file: disk }], timeoutMs: 300_000 })
  const s = show(t, r)
  t.notOk(r.timedOut, 'powered off by itself (modload.onfail=poweroff)')
  t.notOk(r.panicked, 'no kernel panic (PID 1 never exited, nor did a failed execve take it down)')
  t.match(line(s, 'root: error: '), /\/sbin\/init: not executable \(mode 0644\)/, 'the init and why it cannot run')
  t.notOk(parseRootMarker(r.lines), 'no root init ran')
})

/** A static program run as rdinit=: fills a tiny tmpfs on /run, then execs /init. */
const PREFILL_C = `
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv) {
  char buf[4096], name[64];
  int fd, n = 0, k;
  (void)argc;
  mkdir("/run", 0755);
  fd = open("/dev/console", O_WRONLY);
  if (mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "size=16k,nr_inodes=8,mode=0755") != 0) dprintf(fd, "prefill: mount failed\\n");
  memset(buf, 'x', sizeof buf);
  for (k = 0; k < 64; k++) {
    int f;
    snprintf(name, sizeof name, "/run/filler%d", k);
    if ((f = open(name, O_CREAT | O_WRONLY, 0644)) < 0) break;
    while (write(f, buf, sizeof buf) > 0) n++;
    close(f);
  }
  dprintf(fd, "prefill: /run full: %d files, %d pages\\n", k, n);
  execv("/init", argv);
  dprintf(fd, "prefill: exec /init failed\\n");
  return 1;
}
`

t.test('H: no space left in /run, and a hung init before the hand-over', async (t) => {
  const base = await ensureImage({ kernel: { ...kernel, root: root.root }, name: `faults-root-${path.basename(root.root)}`, modules: [...VIRTIO, ...ROOT_FS, 'modload_reqloop', 'modload_reqloop_partner', 'modload_hang'] })
  mkdirSync(work, { recursive: true })
  writeFileSync(path.join(work, 'prefill.c'), PREFILL_C)
  execFileSync('gcc', ['-static', '-Os', '-o', path.join(work, 'prefill'), path.join(work, 'prefill.c')])
  const initrd = overlay(base, 'runfull', { prefill: readFileSync(path.join(work, 'prefill')) }, { prefill: 0o755 })
  const disk = await rootDiskCopy('runfull')
  const r = await boot({ kernel, initrd, machine: 'virtio', append: `rdinit=/prefill root=UUID=${rootUuid} modload.load=modload_reqloop,modload_hang modload.timeout=${TIMEOUT_S} loglevel=7`, disks: [{ id: 'vd0', file: disk }], timeoutMs: 300_000 })
  const s = show(t, r)
  t.ok(r.lines.some((l) => /prefill: \/run full: \d+ files/.test(l)), '/run was filled before init started')
  t.notOk(r.panicked, 'no kernel panic (PID 1 never exited)')
  t.ok(s.modload.some((l) => /cannot install the forwarding helper in \/run\/modload \(ENOSPC.*the kernel's module requests fail until coldplug is done/.test(l)), 'the helper that cannot be installed in /run is named, with ENOSPC and what it costs')
  t.ok(s.console.some((l) => /modload_reqloop: request_module\(modload_reqloop_partner\) returned -2/.test(l)), 'which it does: a request during coldplug fails (-ENOENT)')
  for (const m of VIRTIO) t.notOk(s.modload.some((l) => l.startsWith(`report failed ${m}`)), `${m} did not fail`)
  t.ok(/^report hung modload_hang: init still running after/.test(line(s, 'report hung modload_hang')), 'the hung init is reported as hung at modload.timeout')
  t.ok(s.modload.indexOf(line(s, 'report hung modload_hang')) < s.modload.findIndex((l) => l.startsWith('root: switching root')), 'and the hand-over follows')
  t.ok(parseRootMarker(r.lines), "the real root's init was reached")
})

t.test('I: 6.12, whose kernel decompresses .ko.xz itself: a truncated one, a foreign one, and a truncated .bin', async (t) => {
  const k = await ensureKernel('6.12')
  const net = ['virtio_net', 'virtio_blk', 'virtio_rng']
  // the tree's .ko.xz as they are (not recompressed to zstd), for the kernel to decompress
  const base = await ensureImage({ kernel: k, name: 'faults-xz', modules: [...net, 'dummy', 'ifb', 'veth'], moduleFiles: 'archive' })
  const mdir = `lib/modules/${k.version}`
  const dummy = readFileSync(path.join(k.modulesDir, 'kernel/drivers/net/dummy.ko.xz'))
  const depBin = readFileSync(path.join(k.modulesDir, 'modules.dep.bin'))
  const initrd = overlay(base, 'xz', {
    [`${mdir}/kernel/drivers/net/dummy.ko.xz`]: dummy.subarray(0, Math.floor(dummy.length / 2)),
    [`${mdir}/kernel/drivers/net/ifb.ko.xz`]: 'not xz, not ELF\n',
    [`${mdir}/modules.dep.bin`]: depBin.subarray(0, 64),
  })
  const r = await boot({ kernel: k, initrd, machine: 'virtio', append: 'modload.halt modload.load=dummy,ifb,veth loglevel=7', timeoutMs: 300_000 })
  const s = show(t, r)
  t.notOk(r.timedOut, 'powered off by itself')
  t.notOk(r.panicked, 'no kernel panic (PID 1 never exited)')
  t.match(line(s, 'index '), /format=text/, 'the text index instead of the truncated .bin')
  for (const m of [...net, 'veth']) t.ok(s.live.has(m), `${m} live, as without the fault`)
  t.ok(s.modload.includes('block vda'), '/dev/vda exists')
  t.match(line(s, 'report failed dummy: '), /^report failed dummy: E[A-Z]+ \(.+\): .*\[.*dummy\.ko\.xz\]$/, 'the truncated .ko.xz: the kernel refuses it, named with its errno')
  t.match(line(s, 'report failed ifb: '), /^report failed ifb: ENOEXEC \(Invalid module format\): the file is not an ELF object nor a compressed one/, 'the foreign file: ENOEXEC, said so')
  t.notOk(s.modload.some((l) => l.startsWith('report hung ')), 'nothing hung')
})

t.test('J: 6.12 (which merges a second finit_module of the same file into the first): the request loop and a hung init before the hand-over', async (t) => {
  const k = await ensureKernel('6.12')
  const root612 = await ensureTestRoot(k, { name: 'faults' })
  // .ko.xz as they are: the kernel's own finit_module of the same file twice is the point here
  const initrd = await ensureImage({ kernel: { ...k, root: root612.root }, name: `faults-root-${path.basename(root612.root)}`, modules: ['virtio_net', 'virtio_blk', 'virtio_rng', ...ROOT_FS, 'modload_reqloop', 'modload_reqloop_partner', 'modload_hang'], moduleFiles: 'archive' })
  const disk = await rootDiskCopy('j612')
  const r = await boot({
    kernel: k,
    initrd,
    machine: 'virtio',
    append: `root=UUID=${rootUuid} modload.load=modload_reqloop,modload_hang modload.timeout=${TIMEOUT_S * 2} modload.debug loglevel=7`,
    disks: [{ id: 'vd0', file: disk }],
    timeoutMs: 300_000,
  })
  const s = show(t, r)
  t.notOk(r.panicked, 'no kernel panic (PID 1 never exited)')
  t.ok(s.console.some((l) => /modload_reqloop_partner: request_module\(modload_reqloop\) returned 0/.test(l)), "the partner's request for modload_reqloop is answered")
  t.ok(s.console.some((l) => /modload_reqloop: request_module\(modload_reqloop_partner\) returned 0/.test(l)), "and modload_reqloop's request for its partner succeeds")
  t.ok(s.modload.some((l) => /^loaded modload_reqloop /.test(l)), 'modload_reqloop loaded')
  t.notOk(s.modload.some((l) => l.startsWith('report hung modload_reqloop')), 'the loop is not a hang')
  t.ok(/^report hung modload_hang: init still running after/.test(line(s, 'report hung modload_hang')), 'the hung init is reported as hung at modload.timeout')
  for (const m of ['virtio_net', 'virtio_blk', 'virtio_rng']) t.ok(s.modload.some((l) => l.startsWith(`loaded ${m} `)), `${m} loaded`)
  t.ok(parseRootMarker(r.lines), "the real root's init was reached")
})

function debugfs(): string {
  return ['/usr/sbin/debugfs', '/sbin/debugfs'].find((p) => existsSync(p)) ?? 'debugfs'
}
