// Boots a kernel + initramfs in QEMU on one of the named machines and collects the serial
// console. It must never hang a test run: a deadline kills QEMU (SIGTERM, then SIGKILL) and the
// console seen so far is still returned; and QEMU is started under `setpriv --pdeathsig` so it
// dies with the test process even when that is killed outright. TCG by default (KVM does not
// work on the project's machines); MODLOAD_KVM=1 opts in to KVM. Boots the kernel's
// uncompressed vmlinux when there is one, which saves seconds per boot (see bzimage.ts).
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { findCommand } from './deps.js';
import type { Kernel } from './kernels.js';
import { getMachine, type DiskSpec, type Machine } from './machines.js';
import { tmpDir } from './paths.js';

/** Change or add a disk. Matching a machine disk's id replaces its backing file or size;
 * a new id adds a disk (then `device` is required). A supplied file is used in place, writes
 * included. */
export interface DiskOverride {
  id: string;
  /** Absolute path of an existing raw image; else an empty sparse file is created. */
  file?: string;
  sizeMiB?: number;
  /** -device value without drive=, e.g. 'virtio-blk-pci'. */
  device?: string;
}

export interface BootOptions {
  kernel: Pick<Kernel, 'vmlinuz' | 'vmlinux'>;
  /** Which image to hand QEMU: the uncompressed vmlinux via PVH (default when the kernel has
   * one, and much faster under TCG) or the bzImage, the way a bootloader would (also forced by
   * env MODLOAD_QEMU_BZIMAGE=1). */
  image?: 'vmlinux' | 'bzImage';
  /** Absolute path of the initramfs (cpio, optionally compressed). */
  initrd: string;
  /** Name of an entry in machines.ts. */
  machine: string;
  /** Appended to the base kernel command line `console=ttyS0 quiet panic=-1`. */
  append?: string;
  /** Kill QEMU after this long; default 180 s (TCG is slow, a loaded CI box slower). */
  timeoutMs?: number;
  disks?: readonly DiskOverride[];
  /** Called with each complete console line (\r stripped) as it arrives. */
  onLine?: (line: string) => void;
  /** Stops the boot like a timeout does, but with timedOut=false. */
  signal?: AbortSignal;
  /** CPUs; default 1 (faster than 2 under TCG on a 2-core host, measured). */
  smp?: number;
  /** Guest RAM; default the machine's memMiB, else 1024. */
  memMiB?: number;
  /** Extra QEMU arguments, appended last. */
  qemuArgs?: readonly string[];
}

export interface BootResult {
  /** Everything QEMU wrote to the serial console, \r removed. */
  console: string;
  lines: string[];
  /** QEMU's exit code; null when the harness stopped it (timeout or abort: QEMU exits 0 on
   * SIGTERM, which must not look like a clean power-off). Power-off and a panic with panic=-1
   * (a reboot, which -no-reboot turns into exit) both give 0: look at markers and panicked. */
  exitCode: number | null;
  timedOut: boolean;
  /** The console shows a kernel panic. */
  panicked: boolean;
  durationMs: number;
  /** QEMU's own stderr (bad options, missing files). */
  stderr: string;
  /** The full command line that was run, for reproducing by hand. */
  command: string[];
}

export const baseCmdline = 'console=ttyS0 quiet panic=-1';
const defaultTimeoutMs = 180_000;
const killGraceMs = 3_000;

/** The accelerator arguments: TCG unless MODLOAD_KVM=1. */
export function accelArgs(env: NodeJS.ProcessEnv = process.env): string[] {
  return env.MODLOAD_KVM === '1' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg', '-cpu', 'max'];
}

/** The host's TSC rate in kHz from /proc/cpuinfo ("cpu MHz" of the first CPU), if it says. */
export function hostTscKhz(cpuinfo: string): number | undefined {
  const mhz = Number(/^cpu MHz\s*:\s*([\d.]+)/m.exec(cpuinfo)?.[1]);
  return mhz > 0 ? Math.round(mhz * 1000) : undefined;
}

/**
 * `tsc_early_khz=` for a machine without a reference clock for the TSC (Machine.noTscReference,
 * microvm): the kernel then calibrates against the PIT alone, which under TCG failed in 2 of 8
 * boots, and a kernel that cannot rate its TSC hangs before its first message. Under TCG the
 * guest reads the host's TSC, so the host's rate is the guest's; not under KVM (kvmclock gives
 * it) or -icount (the guest's clock counts instructions and the PIT calibration works).
 */
export function tscArgument(opts: Pick<BootOptions, 'qemuArgs'>, machine: Machine, env: NodeJS.ProcessEnv, cpuinfo: string): string | undefined {
  if (!machine.noTscReference || env.MODLOAD_KVM === '1' || opts.qemuArgs?.includes('-icount')) return undefined;
  const khz = hostTscKhz(cpuinfo);
  return khz === undefined ? undefined : `tsc_early_khz=${khz}`;
}

/** The kernel file to boot: see BootOptions.image. */
export function kernelImage(opts: Pick<BootOptions, 'kernel' | 'image'>, env: NodeJS.ProcessEnv = process.env): string {
  const wanted = opts.image ?? (env.MODLOAD_QEMU_BZIMAGE === '1' ? 'bzImage' : 'vmlinux');
  return wanted === 'vmlinux' && opts.kernel.vmlinux ? opts.kernel.vmlinux : opts.kernel.vmlinuz;
}

/** The machine's disks with the caller's overrides applied. */
export function resolveDisks(machine: Machine, overrides: readonly DiskOverride[] = []): Array<DiskSpec & { file?: string }> {
  const disks: Array<DiskSpec & { file?: string }> = machine.disks.map((d) => ({ ...d }));
  for (const o of overrides) {
    const d = disks.find((x) => x.id === o.id);
    if (d) {
      if (o.file !== undefined) d.file = o.file;
      if (o.sizeMiB !== undefined) d.sizeMiB = o.sizeMiB;
      if (o.device !== undefined) d.device = o.device;
    } else {
      if (!o.device) throw new Error(`disk "${o.id}" is not on machine ${machine.name}: give its device to add it`);
      disks.push({ id: o.id, sizeMiB: o.sizeMiB ?? 16, device: o.device, file: o.file });
    }
  }
  return disks;
}

/**
 * The QEMU argument list (without the program name) for a boot, given the disks with their
 * backing files. Pure, so tests can check command lines without booting.
 */
export function qemuArgs(opts: BootOptions, machine: Machine, disks: ReadonlyArray<DiskSpec & { file: string }>, env: NodeJS.ProcessEnv = process.env, cpuinfo = ''): string[] {
  if (machine.noIcount && opts.qemuArgs?.includes('-icount')) throw new Error(`${machine.name}: cannot boot with -icount: ${machine.noIcount}; boot it without -icount`);
  const append = [baseCmdline, tscArgument(opts, machine, env, cpuinfo), opts.append].filter(Boolean).join(' ');
  return [
    '-machine', machine.options ? `${machine.type},${machine.options}` : machine.type,
    ...accelArgs(env),
    '-m', [String(opts.memMiB ?? machine.memMiB ?? 1024), machine.memOptions].filter(Boolean).join(','),
    '-smp', String(opts.smp ?? 1),
    // -nodefaults: the machine table is the whole device set (no default NIC, VGA, CD-ROM).
    // With it -nographic would give no serial port, hence -display none -serial stdio.
    '-nodefaults', '-no-user-config', '-display', 'none', '-serial', 'stdio',
    '-no-reboot',
    '-kernel', kernelImage(opts, env),
    '-initrd', opts.initrd,
    '-append', append,
    ...machine.args,
    ...disks.flatMap((d) =>
      d.memory
        ? [
            // share=on: the guest's writes reach the file, as a disk's do
            '-object', `memory-backend-file,id=${d.id}-mem,mem-path=${d.file.replaceAll(',', ',,')},size=${d.sizeMiB}M,share=on`,
            '-device', `${d.device},memdev=${d.id}-mem,id=${d.id}`,
          ]
        : ['-drive', `if=none,id=${d.id},format=raw,file=${d.file.replaceAll(',', ',,')}`, '-device', `${d.device},drive=${d.id}`],
    ),
    ...(opts.qemuArgs ?? []),
  ];
}

/** Remove the scratch dirs of boots whose process was killed before its cleanup ran (the
 * owner's pid is in the name). Disk images are sparse, but they add up over many test runs. */
async function removeOrphanScratch(): Promise<void> {
  for (const name of await fs.readdir(tmpDir).catch(() => [])) {
    const pid = Number(/^boot-(\d+)-/.exec(name)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') await fs.rm(path.join(tmpDir, name), { recursive: true, force: true });
    }
  }
}

/** Boot and wait for QEMU to exit, time out or be aborted. Never rejects because of the guest;
 * rejects only if QEMU cannot be started, a file is missing or the machine cannot take the
 * QEMU arguments (Machine.noIcount). */
export async function boot(opts: BootOptions): Promise<BootResult> {
  const machine = getMachine(opts.machine);
  await fs.access(kernelImage(opts));
  await fs.access(opts.initrd);
  await fs.mkdir(tmpDir, { recursive: true });
  await removeOrphanScratch();
  const scratch = await fs.mkdtemp(path.join(tmpDir, `boot-${process.pid}-`));
  try {
    const disks = [];
    for (const d of resolveDisks(machine, opts.disks)) {
      let file = d.file;
      if (file === undefined) {
        file = path.join(scratch, `${d.id}.raw`);
        await fs.writeFile(file, '');
        await fs.truncate(file, d.sizeMiB * 1024 * 1024); // sparse: costs no disk space
      }
      // a memory device's size is its file's, in whole 2 MiB pages: QEMU refuses a backing
      // file smaller than size=
      if (d.memory) d.sizeMiB = Math.floor((await fs.stat(file)).size / (2 * 1024 * 1024)) * 2;
      disks.push({ ...d, file });
    }
    const qemu = (await findCommand('qemu-system-x86_64')) ?? 'qemu-system-x86_64';
    const cpuinfo = machine.noTscReference ? await fs.readFile('/proc/cpuinfo', 'utf8').catch(() => '') : '';
    const args = qemuArgs(opts, machine, disks, process.env, cpuinfo);
    const setpriv = await findCommand('setpriv');
    const command = setpriv ? [setpriv, '--pdeathsig', 'SIGKILL', '--', qemu, ...args] : [qemu, ...args];
    const result = await run(command, opts);
    if (!stillBorn(result)) return result;
    // QEMU ended before the guest printed a line: nothing of the image ran, so it says nothing
    // about it (CI on 2026-12-03 saw one boot of 41 end so, exit 0 in 0.55 s, console empty);
    // once more, and the first try is told on stderr
    process.stderr.write(`qemu: ended after ${result.durationMs} ms with exit code ${result.exitCode} and no console output; booting once more. QEMU's stderr: ${result.stderr.trim() || '(empty)'}\n`);
    return await run(command, opts);
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

/** A boot that ended by itself within seconds without a console line: the guest never ran
 * (a kernel's first line comes seconds in under TCG). Pure. */
export function stillBorn(r: Pick<BootResult, 'console' | 'exitCode' | 'timedOut' | 'durationMs'>): boolean {
  return r.console.trim() === '' && !r.timedOut && r.exitCode !== null && r.durationMs < 5_000;
}

function run(command: string[], opts: BootOptions): Promise<BootResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(command[0], command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const decoder = new StringDecoder('utf8');
    let consoleText = '';
    let partial = '';
    let stderr = '';
    let timedOut = false;
    let stopped = false;
    let killTimer: NodeJS.Timeout | undefined;

    const stop = (why: 'timeout' | 'abort') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (why === 'timeout') timedOut = true;
      stopped = true;
      child.kill('SIGTERM');
      killTimer ??= setTimeout(() => child.kill('SIGKILL'), killGraceMs);
    };
    const deadline = setTimeout(() => stop('timeout'), opts.timeoutMs ?? defaultTimeoutMs);
    const onAbort = () => stop('abort');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) onAbort();

    const feed = (text: string) => {
      text = text.replaceAll('\r', '');
      consoleText += text;
      partial += text;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        opts.onLine?.(line);
      }
    };
    child.stdout.on('data', (d: Buffer) => feed(decoder.write(d)));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // QEMU never reads the console input we give it; an EPIPE there is not our business.
    child.stdin.on('error', () => undefined);

    child.on('error', (err) => {
      clearTimeout(deadline);
      clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(deadline);
      clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      feed(decoder.end());
      if (partial) opts.onLine?.(partial);
      const lines = consoleText.split('\n');
      if (lines.at(-1) === '') lines.pop();
      resolve({
        console: consoleText,
        lines,
        exitCode: stopped ? null : code,
        timedOut,
        panicked: /Kernel panic - not syncing/.test(consoleText),
        durationMs: Date.now() - started,
        stderr,
        command,
      });
    });
  });
}

/**
 * Console lines carrying `prefix` (default 'modload:'), each cut to start at the prefix. The
 * prefix is searched anywhere in the line because kernel messages and the guest's own output
 * share the serial port and can land mid-line, before our text.
 */
export function markers(lines: readonly string[], prefix = 'modload:'): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const i = line.indexOf(prefix);
    if (i >= 0) out.push(line.slice(i).trimEnd());
  }
  return out;
}
