// Host prerequisites for the QEMU harness: the emulator, kmod's depmod, cpio, xz and zstd, plus any other
// Debian package a test needs (udev, busybox-static, ...). Installs with apt-get (we run as
// root in CI and dev containers) and is a no-op costing a few stat calls when all are present.
import fs from 'node:fs/promises';
import path from 'node:path';
import { query, run } from './exec.js';
import { withLock } from './lock.js';
import { cacheDir } from './paths.js';

/** Command the harness runs -> Debian package that provides it. */
export const hostTools: ReadonlyArray<{ command: string; pkg: string }> = [
  { command: 'qemu-system-x86_64', pkg: 'qemu-system-x86' },
  { command: 'depmod', pkg: 'kmod' },
  { command: 'cpio', pkg: 'cpio' },
  // Decompress the kernel inside a bzImage (bzimage.ts): 6.1 is xz, 6.12 zstd.
  { command: 'xz', pkg: 'xz-utils' },
  { command: 'zstd', pkg: 'zstd' },
  // mkinitramfs --compress lz4 (the test and demo images) runs the lz4 program.
  { command: 'lz4', pkg: 'lz4' },
];

// sbin directories are searched too: depmod lives there and a non-login PATH may lack them.
const extraBinDirs = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Absolute path of an executable named `command`, or undefined. */
export async function findCommand(command: string): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...extraBinDirs];
  for (const dir of dirs) {
    const p = path.join(dir, command);
    try {
      await fs.access(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Whether dpkg considers `pkg` installed (status "install ok installed"). */
export async function isPackageInstalled(pkg: string): Promise<boolean> {
  return (await query('dpkg-query', ['-W', '-f=${Status}', pkg])).trim() === 'install ok installed';
}

async function apt(args: string[]): Promise<void> {
  await run('apt-get', args, { passthrough: true, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

// Wait for apt/dpkg's own locks rather than failing when another test file installs at once.
const aptLockWait = ['-o', 'DPkg::Lock::Timeout=600'];

/** `apt-get update`, output to stderr. */
export async function aptUpdate(): Promise<void> {
  process.stderr.write('modload qemu: apt-get update\n');
  await apt(['update', ...aptLockWait]);
}

/**
 * Install the Debian packages among `pkgs` that are not installed yet: one `apt-get update`, then
 * one `apt-get install -y`. Prints what it installs to stderr. Serialised across processes.
 */
export async function ensureDebianPackages(pkgs: readonly string[]): Promise<void> {
  const missing = async () => {
    const out: string[] = [];
    for (const p of pkgs) if (!(await isPackageInstalled(p))) out.push(p);
    return out;
  };
  if ((await missing()).length === 0) return;
  await fs.mkdir(cacheDir, { recursive: true });
  await withLock(path.join(cacheDir, 'apt.lock'), async () => {
    const todo = await missing(); // another process may have installed them meanwhile
    if (todo.length === 0) return;
    process.stderr.write(`modload qemu: installing Debian packages: ${todo.join(' ')}\n`);
    await aptUpdate();
    await apt(['install', '-y', '--no-install-recommends', ...aptLockWait, ...todo]);
  });
}

/** Make sure the hostTools commands exist, installing their packages if not. */
export async function ensureHostTools(): Promise<void> {
  const missing: string[] = [];
  for (const t of hostTools) if (!(await findCommand(t.command))) missing.push(t.pkg);
  if (missing.length > 0) await ensureDebianPackages(missing);
}
