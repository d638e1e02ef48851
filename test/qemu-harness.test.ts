// Self-test of the QEMU harness (qemu/*.ts): the pure parts (markers, command lines, apt output,
// bzImage parsing), then real boots of a tiny busybox initramfs on Debian's kernels, and a boot
// that never ends to prove the deadline kills QEMU. Asserts on console markers and outcomes,
// never on wall-clock speed.
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { accelArgs, hostTscKhz, boot, kernelImage, markers, qemuArgs, resolveDisks, stillBorn } from '../qemu/boot.js';
import { hasPvhNote, parseBzImage } from '../qemu/bzimage.js';
import { ensureDebianPackages, ensureHostTools } from '../qemu/deps.js';
import { buildCpio, writeTree } from '../qemu/initramfs-tools.js';
import { ensureKernel, kernelFlavors, parseImageDependency } from '../qemu/kernels.js';
import { getMachine, machineNames } from '../qemu/machines.js';
import { tmpDir } from '../qemu/paths.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'qemu');
const fixture = (name: string) => fs.readFile(path.join(fixtures, name), 'utf8');

t.test('markers finds the prefix anywhere in a line', async (t) => {
  const lines = [
    '[    2.1] virtio_net virtio0: something',
    'modload: start',
    '[    2.3] random: crng init donemodload: loaded 3 modules  ',
    'no marker here',
  ];
  t.same(markers(lines), ['modload: start', 'modload: loaded 3 modules']);
  t.same(markers(['x other: a', 'other: b'], 'other:'), ['other: a', 'other: b']);
});

t.test('stillBorn: a QEMU that ended by itself within seconds without a console line', async (t) => {
  const r = { console: '', exitCode: 0, timedOut: false, durationMs: 550 };
  t.ok(stillBorn(r), 'ended at once, silent: the guest never ran (booted once more)');
  t.notOk(stillBorn({ ...r, console: '[    0.000000] Linux version 6.1\n' }), 'the kernel printed: a real boot');
  t.notOk(stillBorn({ ...r, durationMs: 20_000 }), 'silent for long: a boot that printed nothing (quiet), not retried');
  t.notOk(stillBorn({ ...r, exitCode: null }), 'stopped by us');
  t.notOk(stillBorn({ ...r, timedOut: true }), 'timed out');
});

t.test('command line for a machine', async (t) => {
  const machine = getMachine('virtio');
  const kernel = { vmlinuz: '/k/vmlinuz', vmlinux: '/k/vmlinux' };
  const disks = resolveDisks(machine).map((d) => ({ ...d, file: `/tmp/${d.id},x.raw` }));
  const args = qemuArgs({ kernel, initrd: '/i.cpio', machine: 'virtio', append: 'foo=1' }, machine, disks, {});
  const after = (flag: string) => args[args.indexOf(flag) + 1];
  t.equal(after('-machine'), 'pc');
  t.equal(after('-accel'), 'tcg', 'TCG unless MODLOAD_KVM=1');
  t.equal(after('-kernel'), '/k/vmlinux', 'prefers the uncompressed kernel');
  t.equal(after('-append'), 'console=ttyS0 quiet panic=-1 foo=1');
  t.ok(args.includes('-nodefaults') && args.includes('-no-reboot'));
  t.ok(args.includes('if=none,id=vd0,format=raw,file=/tmp/vd0,,x.raw'), 'commas in paths are escaped');
  t.ok(args.includes('virtio-blk-pci,drive=vd0'));
  t.same(accelArgs({ MODLOAD_KVM: '1' }), ['-accel', 'kvm', '-cpu', 'host']);
  t.equal(kernelImage({ kernel, image: 'bzImage' }), '/k/vmlinuz');
  t.equal(kernelImage({ kernel }, { MODLOAD_QEMU_BZIMAGE: '1' }), '/k/vmlinuz');
  t.equal(kernelImage({ kernel: { vmlinuz: '/k/vmlinuz' } }), '/k/vmlinuz', 'falls back to the bzImage');
  t.throws(() => getMachine('nope'), /unknown QEMU machine "nope"; known: virtio/);
  t.throws(() => resolveDisks(machine, [{ id: 'extra' }]), /give its device/);
  t.same(resolveDisks(machine, [{ id: 'vd0', sizeMiB: 1 }, { id: 'x', device: 'nvme,serial=x' }]).map((d) => [d.id, d.sizeMiB]), [['vd0', 1], ['x', 16]]);
  for (const name of machineNames) t.equal(getMachine(name).name, name, `${name} is named after its key`);
});

t.test('microvm: its -machine properties, and the TSC rate where nothing else can tell the kernel', async (t) => {
  const machine = getMachine('microvm');
  const kernel = { vmlinuz: '/k/vmlinuz', vmlinux: '/k/vmlinux' };
  const disks = resolveDisks(machine).map((d) => ({ ...d, file: `/tmp/${d.id}.raw` }));
  const cpuinfo = 'processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu MHz\t\t: 2095.988\n\nprocessor\t: 1\ncpu MHz\t\t: 1800.000\n';
  const opts = { kernel, initrd: '/i.cpio', machine: 'microvm' };
  const args = qemuArgs(opts, machine, disks, {}, cpuinfo);
  const after = (a: string[], flag: string) => a[a.indexOf(flag) + 1];
  t.equal(after(args, '-machine'), 'microvm,acpi=on,isa-serial=on,rtc=on');
  t.equal(after(args, '-append'), 'console=ttyS0 quiet panic=-1 tsc_early_khz=2095988', "the first CPU's rate");
  t.equal(hostTscKhz('flags : fpu\n'), undefined);
  t.equal(after(qemuArgs(opts, machine, disks, {}, ''), '-append'), 'console=ttyS0 quiet panic=-1', 'no cpuinfo, no guess');
  t.equal(after(qemuArgs(opts, machine, disks, { MODLOAD_KVM: '1' }, cpuinfo), '-append'), 'console=ttyS0 quiet panic=-1', 'KVM: kvmclock rates it');
  t.equal(after(qemuArgs({ ...opts, qemuArgs: ['-icount', 'shift=0'] }, machine, disks, {}, cpuinfo), '-append'), 'console=ttyS0 quiet panic=-1', '-icount: the TSC is not the host\'s');
  const pcie = getMachine('pcie-mix');
  t.throws(() => qemuArgs({ ...opts, machine: 'pcie-mix', qemuArgs: ['-icount', 'shift=0'] }, pcie, [], {}, ''), /pcie-mix: cannot boot with -icount: QEMU 7\.2 .* usb-wacom-tablet/, 'a machine QEMU cannot count instructions on is refused, not left to hang');
  const virtio = getMachine('virtio');
  t.equal(after(qemuArgs({ ...opts, machine: 'virtio' }, virtio, [], {}, cpuinfo), '-append'), 'console=ttyS0 quiet panic=-1', 'machines with an HPET need nothing');
});

t.test('topo-mix: persistent memory backed by the disk file, room for it in -m', async (t) => {
  const machine = getMachine('topo-mix');
  const disks = resolveDisks(machine, [{ id: 'pm0', file: '/r/root,1.raw' }]).map((d) => ({ ...d, file: d.file ?? `/tmp/${d.id}.raw` }));
  const args = qemuArgs({ kernel: { vmlinuz: '/k/vmlinuz' }, initrd: '/i.cpio', machine: 'topo-mix' }, machine, disks, {}, '');
  const after = (flag: string) => args[args.indexOf(flag) + 1];
  t.equal(after('-machine'), 'q35,nvdimm=on');
  t.equal(after('-m'), '1024,slots=4,maxmem=8G', 'memOptions after the size');
  t.ok(args.includes('memory-backend-file,id=pm0-mem,mem-path=/r/root,,1.raw,size=64M,share=on'), 'the file backs the memory, commas escaped');
  t.ok(args.includes('virtio-pmem-pci,bus=pcie.0,memdev=pm0-mem,id=pm0'), 'the device takes the memory');
  t.notOk(args.some((a) => a.includes('drive=pm0') || a.includes('id=pm0,format=raw')), 'not as a drive');
  t.ok(args.includes('nvme,serial=nv0,bus=dn0,drive=nv0'), 'the other disks stay drives');
});

t.test('kernel package resolution from apt-cache output', async (t) => {
  t.equal(parseImageDependency(await fixture('apt-cache-depends-linux-image-amd64.txt'), '6.1'), 'linux-image-6.1.0-56-amd64');
  t.equal(parseImageDependency(await fixture('apt-cache-depends-linux-image-6.12-amd64.txt'), '6.12'), 'linux-image-6.12.117+deb12-amd64');
  t.equal(parseImageDependency(await fixture('apt-cache-depends-linux-image-6.12-amd64.txt'), '6.1'), undefined, '6.1 does not match a 6.12 package');
  const cloud = 'linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-57-cloud-amd64\n';
  t.equal(parseImageDependency(cloud, '6.1-cloud'), 'linux-image-6.1.0-57-cloud-amd64');
  t.equal(parseImageDependency(cloud, '6.1'), undefined, 'the generic flavor is not the cloud one');
  t.equal(parseImageDependency(await fixture('apt-cache-depends-linux-image-amd64.txt'), '6.1-cloud'), undefined, 'nor the other way round');
  t.equal(parseImageDependency('', '6.1'), undefined);
});

t.test('bzImage parsing', async (t) => {
  t.throws(() => parseBzImage(Buffer.alloc(4096)), /not a bzImage/);
  t.notOk(hasPvhNote(Buffer.from('not an elf')));
});

// The boots below need the host tools, busybox and the kernels (downloaded once, cached).
const work = await (async () => {
  await ensureHostTools();
  await ensureDebianPackages(['busybox-static']);
  await fs.mkdir(tmpDir, { recursive: true });
  return fs.mkdtemp(path.join(tmpDir, 'harness-test-'));
})();
t.teardown(() => fs.rm(work, { recursive: true, force: true }));

/** A gzip'd initramfs: static busybox, a few applet links, and `init` as /init. */
async function busyboxInitramfs(name: string, init: string): Promise<string> {
  const tree = path.join(work, `${name}-tree`);
  await writeTree(tree, [
    { path: 'bin/busybox', copyFrom: '/bin/busybox', mode: 0o755 },
    ...['sh', 'mount', 'poweroff', 'sleep', 'cat'].map((a) => ({ path: `bin/${a}`, symlink: 'busybox' })),
    { path: 'init', content: init, mode: 0o755 },
    { path: 'proc/.keep', content: '' },
  ]);
  return buildCpio(tree, path.join(work, `${name}.cpio.gz`), { gzip: true });
}

const okImage = await busyboxInitramfs('ok', await fixture('harness-ok.init'));
const hangImage = await busyboxInitramfs('hang', await fixture('never-halts.init'));

for (const flavor of kernelFlavors) {
  t.test(`busybox boots to /init and powers off on ${flavor}`, async (t) => {
    const kernel = await ensureKernel(flavor);
    t.match(kernel.version, new RegExp(`^${flavor.replace('.', '\\.')}[.-]`));
    const cached = await ensureKernel(flavor);
    t.same(cached, kernel, 'a second call returns the cached kernel');
    t.ok(hasPvhNote(await fs.readFile(kernel.vmlinux ?? '')), 'uncompressed kernel has a PVH entry');
    t.ok(parseBzImage(await fs.readFile(kernel.vmlinuz)).length > 1_000_000);
    await fs.access(path.join(kernel.modulesDir, 'modules.dep'));

    const streamed: string[] = [];
    const r = await boot({ kernel, initrd: okImage, machine: 'virtio', timeoutMs: 300_000, onLine: (l) => streamed.push(l) });
    t.comment(`${flavor}: boot took ${r.durationMs} ms; ${markers(r.lines).join(' | ')}`);
    t.equal(r.timedOut, false, 'did not time out');
    t.equal(r.exitCode, 0, 'QEMU exited by itself');
    t.equal(r.panicked, false);
    t.equal(r.stderr, '', 'QEMU printed no warnings');
    t.notOk(r.console.includes('\r'), '\\r stripped');
    const m = markers(r.lines);
    t.equal(m.length, 2, 'two markers');
    t.match(m[0], /^modload: harness-ok uptime=\d+\.\d+$/);
    t.equal(m[1], 'modload: halt');
    t.same(markers(streamed), m, 'onLine saw the same lines');
  });
}

t.test('a guest that never powers off is killed at the deadline', async (t) => {
  const kernel = await ensureKernel('6.1');
  const timeoutMs = 20_000;
  const r = await boot({ kernel, initrd: hangImage, machine: 'virtio', timeoutMs });
  t.comment(`killed after ${r.durationMs} ms; markers: ${markers(r.lines).join(' | ') || 'none yet'}`);
  t.equal(r.timedOut, true);
  t.equal(r.exitCode, null, 'killed, not exited');
  t.ok(r.durationMs >= timeoutMs, 'ran until the deadline');
});

t.test('an aborted boot stops without counting as a timeout', async (t) => {
  const kernel = await ensureKernel('6.1');
  const ac = new AbortController();
  const onLine = (line: string) => {
    if (line.includes('modload: sleeping')) ac.abort();
  };
  const r = await boot({ kernel, initrd: hangImage, machine: 'virtio', timeoutMs: 300_000, signal: ac.signal, onLine });
  t.ok(ac.signal.aborted, 'the guest reached /init');
  t.equal(r.timedOut, false);
  t.equal(r.exitCode, null, 'stopped by the harness');
  t.same(markers(r.lines), ['modload: sleeping'], 'console up to the abort is kept');
});
