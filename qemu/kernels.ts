// Real Debian kernels for the QEMU tests: resolves the current package of each flavor from its
// metapackage, downloads the -unsigned image package (vmlinuz + every module), unpacks it under
// .cache/kernels/<uname -r>/root and runs depmod there, as a Debian install would. Cached: a
// completion marker written last means an interrupted fetch is redone, never trusted. Also
// extracts the uncompressed vmlinux, which boots much faster under TCG (see bzimage.ts).
import fs from 'node:fs/promises';
import path from 'node:path';
import { extractVmlinux, hasPvhNote } from './bzimage.js';
import { aptUpdate, ensureHostTools, findCommand } from './deps.js';
import { query, run } from './exec.js';
import { withLock } from './lock.js';
import { kernelsDir } from './paths.js';

/** The kernels every QEMU test boots. */
export const kernelFlavors = ['6.1', '6.12'] as const;
/** And every kernel the harness can fetch: Debian's cloud kernel (6.1-cloud) has another module
 * tree (many drivers built in, no sound, USB or legacy SCSI), for the tests that compare
 * modload with kmod on trees it was not built on. */
export const allKernelFlavors = [...kernelFlavors, '6.1-cloud'] as const;
export type KernelFlavor = (typeof allKernelFlavors)[number];

export interface Kernel {
  flavor: KernelFlavor;
  /** `uname -r`, e.g. 6.1.0-56-amd64 */
  version: string;
  /** Absolute path of the bzImage. */
  vmlinuz: string;
  /** The same kernel uncompressed (ELF with a PVH entry), which QEMU boots without running the
   * slow in-guest decompressor; absent if the kernel has no PVH entry. */
  vmlinux?: string;
  /** Absolute directory holding lib/modules/<version> (with depmod's outputs) and boot/. */
  root: string;
  /** root/lib/modules/<version> */
  modulesDir: string;
  /** root/boot/config-<version> */
  config: string;
  /** The Debian package it came from, e.g. linux-image-6.1.0-56-amd64-unsigned */
  packageName: string;
}

/** Metapackage that depends on the flavor's current ABI package. */
const metapackages: Record<KernelFlavor, string> = {
  '6.1': 'linux-image-amd64',
  '6.12': 'linux-image-6.12-amd64',
  '6.1-cloud': 'linux-image-cloud-amd64',
};

/** What ensureKernel records once a kernel is complete; also the per-flavor pointer. */
interface Marker {
  /** Bumped when the cache layout changes, so older caches are rebuilt, not misread. */
  layout: number;
  flavor: KernelFlavor;
  version: string;
  packageName: string;
  pvh: boolean;
}

const layout = 2;

const markerName = 'complete.json';

function kernelFromMarker(m: Marker): Kernel {
  const root = path.join(kernelsDir, m.version, 'root');
  return {
    flavor: m.flavor,
    version: m.version,
    vmlinuz: path.join(root, 'boot', `vmlinuz-${m.version}`),
    ...(m.pvh ? { vmlinux: path.join(kernelsDir, m.version, 'vmlinux') } : {}),
    root,
    modulesDir: path.join(root, 'lib', 'modules', m.version),
    config: path.join(root, 'boot', `config-${m.version}`),
    packageName: m.packageName,
  };
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Write via a temp file and rename, so a reader never sees half a file. */
async function writeFileAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, data);
  await fs.rename(tmp, file);
}

/** Whether a completion marker is current and its files are still there: a cheap guard
 * against a cache pruned by hand (or by a too-broad `rm -rf .cache/...`). */
async function isComplete(marker: Marker | undefined): Promise<boolean> {
  if (marker?.layout !== layout) return false;
  const k = kernelFromMarker(marker);
  for (const f of [k.vmlinuz, k.vmlinux, path.join(k.modulesDir, 'modules.dep')]) {
    if (f !== undefined && !(await fs.stat(f).catch(() => undefined))) return false;
  }
  return true;
}

/** The cached kernel for `flavor`, if one was completed before. */
async function cachedKernel(flavor: KernelFlavor): Promise<Kernel | undefined> {
  const pointer = await readJson<Marker>(path.join(kernelsDir, `${flavor}.json`));
  if (!pointer) return undefined;
  const marker = await readJson<Marker>(path.join(kernelsDir, pointer.version, markerName));
  if (!marker || marker.version !== pointer.version || marker.flavor !== flavor) return undefined;
  return (await isComplete(marker)) ? kernelFromMarker(marker) : undefined;
}

/** Parse `apt-cache depends <meta>` output: the linux-image-* package it depends on. */
export function parseImageDependency(aptCacheOutput: string, flavor: KernelFlavor): string | undefined {
  const [base, variant] = flavor.split('-');
  const prefix = `linux-image-${base}`;
  const suffix = variant ? `-${variant}-amd64` : '-amd64';
  for (const line of aptCacheOutput.split('\n')) {
    const m = /^\s*\|?Depends:\s+(linux-image-\S+)/.exec(line);
    // linux-image-6.1.0-56-amd64 for 6.1, linux-image-6.12.117+deb12-amd64 for 6.12,
    // linux-image-6.1.0-56-cloud-amd64 for 6.1-cloud; the separator after the prefix keeps "6.1"
    // from matching a 6.12 package, the variant keeps 6.1 from matching a cloud or rt one.
    const name = m?.[1] ?? '';
    const middle = name.slice(prefix.length, name.length - suffix.length);
    if (name.startsWith(prefix) && name.endsWith(suffix) && /^[.-]/.test(middle) && (variant !== undefined || !/-(cloud|rt)$/.test(middle))) return name;
  }
  return undefined;
}

/** Resolve the image package for `flavor` (e.g. linux-image-6.1.0-56-amd64), updating apt's
 * lists once if it does not know the metapackage yet. */
async function resolveImagePackage(flavor: KernelFlavor): Promise<string> {
  const meta = metapackages[flavor];
  const lookup = async () => parseImageDependency(await query('apt-cache', ['depends', meta]), flavor);
  let pkg = await lookup();
  if (!pkg) {
    await aptUpdate();
    pkg = await lookup();
  }
  if (!pkg) throw new Error(`apt-cache depends ${meta} names no linux-image-${flavor}* package; is deb.debian.org bookworm (and bookworm-backports/updates for 6.12) in apt's sources?`);
  return pkg;
}

/** Download `pkg`'s .deb into debsDir unless already there; returns its path. apt-get download
 * writes into its cwd, so it runs in a private temp dir and the finished file is renamed in:
 * a .deb in debsDir is always whole. */
async function downloadDeb(pkg: string, debsDir: string): Promise<string> {
  await fs.mkdir(debsDir, { recursive: true });
  const find = async (dir: string) =>
    (await fs.readdir(dir)).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  const have = await find(debsDir);
  if (have) return path.join(debsDir, have);
  const tmp = await fs.mkdtemp(path.join(debsDir, 'download-'));
  try {
    process.stderr.write(`modload qemu: apt-get download ${pkg}\n`);
    await run('apt-get', ['download', pkg], { cwd: tmp });
    const got = await find(tmp);
    if (!got) throw new Error(`apt-get download ${pkg} produced no ${pkg}_*.deb`);
    await fs.rename(path.join(tmp, got), path.join(debsDir, got));
    return path.join(debsDir, got);
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

async function fetchKernel(flavor: KernelFlavor): Promise<Kernel> {
  await ensureHostTools();
  const image = await resolveImagePackage(flavor);
  const version = image.slice('linux-image-'.length);
  const packageName = `${image}-unsigned`;
  const deb = await downloadDeb(packageName, path.join(kernelsDir, 'debs'));

  const dir = path.join(kernelsDir, version);
  let marker = await readJson<Marker>(path.join(dir, markerName));
  if (!marker || !(await isComplete(marker))) {
    // Whatever is here is from an interrupted run: start over.
    await fs.rm(dir, { recursive: true, force: true });
    const root = path.join(dir, 'root');
    await fs.mkdir(root, { recursive: true });
    process.stderr.write(`modload qemu: unpacking ${path.basename(deb)}\n`);
    await run('dpkg', ['-x', deb, root]);
    const k = kernelFromMarker({ layout, flavor, version, packageName, pvh: false });
    await fs.access(k.vmlinuz).catch(() => {
      throw new Error(`${deb} has no boot/vmlinuz-${version}: package naming changed?`);
    });
    await fs.access(k.modulesDir).catch(() => {
      throw new Error(`${deb} has no lib/modules/${version}: package naming changed?`);
    });
    await run((await findCommand('depmod')) ?? 'depmod', ['-b', root, version]);
    // Only an optimisation: without it boots use the bzImage.
    let pvh = false;
    const bzImage = await fs.readFile(k.vmlinuz);
    try {
      const vmlinux = await extractVmlinux(bzImage);
      pvh = hasPvhNote(vmlinux);
      if (pvh) await fs.writeFile(path.join(dir, 'vmlinux'), vmlinux);
    } catch (err) {
      process.stderr.write(`modload qemu: no vmlinux for ${version}, boots will use the slower bzImage: ${(err as Error).message}\n`);
    }
    marker = { layout, flavor, version, packageName, pvh };
    await writeFileAtomic(path.join(dir, markerName), JSON.stringify(marker, null, 2) + '\n');
  }
  await writeFileAtomic(path.join(kernelsDir, `${flavor}.json`), JSON.stringify(marker, null, 2) + '\n');
  return kernelFromMarker(marker);
}

/**
 * The Debian kernel of `flavor`, downloaded, unpacked and depmod'ed on first use. Later calls
 * return the cached one without asking apt (so the tested kernel stays fixed until the cache is
 * removed, or until MODLOAD_KERNEL_REFRESH=1 re-resolves the metapackage). Safe to call from
 * several processes at once: the fetch happens once, under a lock.
 */
export async function ensureKernel(flavor: KernelFlavor): Promise<Kernel> {
  if (!allKernelFlavors.includes(flavor)) throw new Error(`unknown kernel flavor ${flavor}; known: ${allKernelFlavors.join(', ')}`);
  const refresh = process.env.MODLOAD_KERNEL_REFRESH === '1';
  if (!refresh) {
    const k = await cachedKernel(flavor);
    if (k) return k;
  }
  await fs.mkdir(kernelsDir, { recursive: true });
  return withLock(path.join(kernelsDir, `${flavor}.lock`), async () => {
    if (!refresh) {
      const k = await cachedKernel(flavor); // another process finished while we waited
      if (k) return k;
    }
    return fetchKernel(flavor);
  });
}
