// Rebuilds the checked-in part of the fuzz corpus (test/fuzz/corpus/TARGET/*) from small real
// samples: slices of a Debian kernel's depmod indexes and a few of its smallest modules (from
// .cache/kernels/*, which the QEMU tests download), and the repository's own fixtures. Each
// file is a few KB at most; inputs the project's writers can build (the .bin indexes, cpio
// archives, superblocks, synthetic modules) are made at run time by corpus.ts instead.
// Usage: node build/run.mjs test/fuzz/make-corpus.ts
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'

const repo = process.cwd()
const out = join(repo, 'test/fuzz/corpus')

function put(target: string, name: string, data: Uint8Array | string): void {
  mkdirSync(join(out, target), { recursive: true })
  writeFileSync(join(out, target, name), data)
}

/** The first kernel tree under .cache/kernels whose directory name starts with `prefix`. */
function tree(prefix: string): string | null {
  const base = join(repo, '.cache/kernels')
  if (!existsSync(base)) return null
  for (const d of readdirSync(base)) {
    if (!d.startsWith(prefix)) continue
    const mods = join(base, d, 'root/lib/modules')
    if (existsSync(mods)) return join(mods, readdirSync(mods)[0])
  }
  return null
}

/** Lines of `text` picked to show every shape: the first few, then those matching each probe. */
function sample(text: string, probes: RegExp[], first = 8, perProbe = 3): string {
  const lines = text.split('\n').filter((l) => l.length > 0)
  const picked = new Set(lines.slice(0, first))
  for (const p of probes) for (const l of lines.filter((x) => p.test(x)).slice(0, perProbe)) picked.add(l)
  return lines.filter((l) => picked.has(l)).join('\n') + '\n'
}

for (const [kv, dir] of [['6.1', tree('6.1.')], ['6.12', tree('6.12.')]] as const) {
  if (dir === null) {
    console.log(`no ${kv} tree under .cache/kernels: skipped`)
    continue
  }
  const read = (f: string): string => readFileSync(join(dir, f), 'latin1')
  put('modules-dep', `${kv}.dep`, sample(read('modules.dep'), [/: \S+ \S+ \S+ \S+/, /-/, /:$/, /\.ko\.xz/]))
  put('modules-alias', `${kv}.alias`, sample(read('modules.alias'), [/\[/, /acpi\*:/, /of:N\*/, /usb:v.*d\*dc/, /cpu:type/, /dmi\*/, /pci:v\*/, / \S+-\S+$/, /alias [^ ]{0,3}[*?]/]))
  put('modules-symbols', `${kv}.symbols`, sample(read('modules.symbols'), [/-/, /symbol:__/], 20))
  put('modules-builtin', `${kv}.builtin`, sample(read('modules.builtin'), [/-/], 20))
  put('modules-devname', `${kv}.devname`, read('modules.devname'))
  put('modprobe-conf', `${kv}.softdep`, read('modules.softdep'))
  const modinfo = read('modules.builtin.modinfo')
  put('builtin-modinfo', `${kv}.modinfo`, modinfo.slice(0, modinfo.lastIndexOf('\0', 3000) + 1))
}

const k61 = tree('6.1.')
if (k61 !== null) {
  const crc7 = readFileSync(join(k61, 'kernel/lib/crc7.ko'))
  put('elf', 'crc7.ko', crc7)
  put('compress', 'crc7.ko.gz', gzipSync(crc7, { level: 9 }))
  try {
    put('compress', 'crc7.ko.zst', execFileSync('zstd', ['-19', '-c'], { input: crc7 }))
  } catch {
    console.log('no zstd: crc7.ko.zst skipped')
  }
}
const k612 = tree('6.12.')
if (k612 !== null) put('compress', 'nls_ucs2_utils.ko.xz', readFileSync(join(k612, 'kernel/fs/nls/nls_ucs2_utils.ko.xz')))

const fx = join(repo, 'test/fixtures')
const fixtureTree = join(fx, 'tree/lib/modules/6.1.0-test')
put('modules-dep', 'fixture.dep', readFileSync(join(fixtureTree, 'modules.dep')))
put('modules-alias', 'fixture.alias', readFileSync(join(fixtureTree, 'modules.alias')))
put('modules-builtin', 'fixture.order', readFileSync(join(fixtureTree, 'modules.order')))
for (const f of readdirSync(join(fx, 'config/modprobe.d'))) {
  if (f.endsWith('.conf') && statSync(join(fx, 'config/modprobe.d', f)).isFile()) put('modprobe-conf', f, readFileSync(join(fx, 'config/modprobe.d', f)))
}
put('proc-modules', 'fixture.modules', readFileSync(join(fx, 'tools/proc/modules')))
for (const f of readdirSync(join(fx, 'tools/signatures'))) put('pkcs7', f, readFileSync(join(fx, 'tools/signatures', f)))

// Hand-written shapes of the formats that have no file in a module tree.
put('cmdline', 'debian.cmdline', 'BOOT_IMAGE=/boot/vmlinuz-6.1.0-56-amd64 root=UUID=0a1b2c3d-aaaa-bbbb-cccc-0123456789ab ro quiet\n')
put('cmdline', 'modload.cmdline', 'console=ttyS0 modload.halt modload.debug modload.timeout=30 modload.load=a,b-c modprobe.blacklist=floppy,pcspkr module_blacklist=x snd-hda-intel.model="a b" e1000e.IntMode=1 -- single "x y"\n')
put('cmdline', 'quotes.cmdline', '"mod.param=a b" x.y="c d" "un balanced a.b=c\t\n rootflags=data=journal init=/sbin/init rw rootwait=10\n')
put('uevent', 'add-pci', 'add@/devices/pci0000:00/0000:00:03.0\0ACTION=add\0DEVPATH=/devices/pci0000:00/0000:00:03.0\0SUBSYSTEM=pci\0MODALIAS=pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00\0SEQNUM=1234\0')
put('uevent', 'bind-usb', 'bind@/devices/pci0000:00/0000:00:04.0/usb1/1-1\0ACTION=bind\0DEVPATH=/devices/pci0000:00/0000:00:04.0/usb1/1-1\0SUBSYSTEM=usb\0DEVTYPE=usb_device\0DRIVER=usb\0SEQNUM=99\0')
put('uevent', 'libudev', 'libudev\0\xfe\xed\xca\xfe\x28\0\0\0ACTION=add\0')
put('cmdline-file', 'default', '# default kernel command line of this image\nmodload.debug rootflags="a b" quiet\n# comment\nmodload.timeout=5 -- ignored\n')
put('image-config', 'example.conf', [
  '# an image for this machine',
  'modules host usb-host -floppy ?zfs kernel/drivers/ata/* virtio_blk',
  'modules = all -sound/',
  'compress zstd:19',
  'firmware yes',
  'firmware-exclude net gpu',
  'strict-firmware no',
  'add /etc/hosts /etc/a:/etc/b',
  'cmdline root=UUID=x rootflags="data=journal" \\',
  '  quiet',
  'output /boot/initrd.img-%k',
  'modprobe-d no',
  'compres gzip',
  'modules=host',
  '',
].join('\n'))
console.log(`corpus written under ${out}`)
