// Small out-of-tree kernel modules for the QEMU tests (test/modules/<name>/: one that asks for
// firmware, and faults: an init that fails, sleeps, hangs, oopses, takes a bad parameter, needs
// an unknown symbol, requests a module whose init requests it back), built for a test kernel with Debian's linux-headers package for exactly
// that kernel ABI (apt-get installs it with linux-kbuild and the matching gcc). Built once per
// kernel and source hash under .cache/test-modules/<kver>/mods-<hash>/, with a completion
// marker written last, under a lock (as kernels.ts does).
//
// ensureTestRoot() makes a kernel root for mkinitramfs --kernel-root: the cached kernel's
// lib/modules/<kver> as hard links (cp -al: cheap, 4,000 modules), the test modules under
// extra/, depmod run on it, boot/config-<kver>, and lib/firmware holding the files asked for.
// Also cached, keyed by the modules and the firmware, so each firmware set has its own root.
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { ensureDebianPackages, findCommand } from './deps.js'
import { run } from './exec.js'
import type { Kernel } from './kernels.js'
import { withLock } from './lock.js'
import { cacheDir, projectRoot } from './paths.js'

export const testModulesSrc = path.join(projectRoot, 'test', 'modules')
const testModulesCache = path.join(cacheDir, 'test-modules')

export interface TestModules {
  /** the build directory: <dir>/<name>/<name>.ko */
  dir: string
  /** module name -> absolute path of its .ko */
  modules: Record<string, string>
}

/** Bumped when the cache layout changes. */
const layout = 1
const markerName = 'complete.json'

/** The files that make a module (build outputs are left out, should someone run make in place). */
const isSource = (name: string): boolean => name === 'Kbuild' || /\.[ch]$/.test(name)

/** name -> [relative path, contents] of each module's sources, sorted. */
async function readSources(): Promise<Map<string, [string, Buffer][]>> {
  const out = new Map<string, [string, Buffer][]>()
  for (const name of (await fs.readdir(testModulesSrc)).sort()) {
    const dir = path.join(testModulesSrc, name)
    if (!(await fs.stat(dir)).isDirectory()) continue
    const files: [string, Buffer][] = []
    for (const f of (await fs.readdir(dir)).sort()) if (isSource(f)) files.push([f, await fs.readFile(path.join(dir, f))])
    if (!files.some(([f]) => f === `${name}.c`)) throw new Error(`${dir}: no ${name}.c (each test module lives in test/modules/NAME/NAME.c)`)
    out.set(name, files)
  }
  return out
}

function hashOf(parts: unknown[], files: Iterable<[string, Buffer]> = []): string {
  const h = createHash('sha256')
  h.update(JSON.stringify(parts))
  for (const [name, data] of files) {
    h.update(`\0${name}\0${data.length}\0`)
    h.update(data)
  }
  return h.digest('hex').slice(0, 16)
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  )
}

/** The headers for `kernel`, installed from Debian if missing. */
async function ensureHeaders(kernel: Kernel): Promise<string> {
  const dir = `/usr/src/linux-headers-${kernel.version}`
  if (await exists(path.join(dir, 'Makefile'))) return dir
  const pkg = `linux-headers-${kernel.version}`
  await ensureDebianPackages([pkg]).catch((err: Error) => {
    throw new Error(`cannot install ${pkg} to build the test modules for ${kernel.version} (${kernel.packageName}); is its ABI still in Debian's archive? ${err.message}`)
  })
  if (!(await exists(path.join(dir, 'Makefile')))) throw new Error(`${pkg} is installed but ${dir}/Makefile is missing`)
  return dir
}

async function build(kernel: Kernel, sources: Map<string, [string, Buffer][]>, out: string): Promise<void> {
  const kdir = await ensureHeaders(kernel)
  const tmp = `${out}.tmp-${process.pid}`
  await fs.rm(tmp, { recursive: true, force: true })
  const names = [...sources.keys()]
  for (const [name, files] of sources) {
    await fs.mkdir(path.join(tmp, name), { recursive: true })
    for (const [f, data] of files) await fs.writeFile(path.join(tmp, name, f), data)
  }
  process.stderr.write(`modload qemu: building test modules ${names.join(' ')} for ${kernel.version}\n`)
  // two at a time: each make is mostly kbuild's own start-up, and the machine has 2 cores
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < names.length) {
      const name = names[next++]
      // kbuild's own external-module build: a Kbuild file per module is all it needs.
      // KBUILD_MODPOST_WARN: modload_unknown_symbol references a symbol nobody exports, on purpose
      const r = await run('make', ['-C', kdir, `M=${path.join(tmp, name)}`, 'KBUILD_MODPOST_WARN=1', 'modules'], { nothrow: true })
      const ko = path.join(tmp, name, `${name}.ko`)
      if (r.exitCode !== 0 || !(await exists(ko))) {
        throw new Error(`building test module ${name} for ${kernel.version} failed (make exit ${r.exitCode}):\n${r.stdout.toString()}${r.stderr}`)
      }
    }
  }
  try {
    await Promise.all([worker(), worker()])
    await fs.rm(out, { recursive: true, force: true })
    await fs.rename(tmp, out)
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true })
    throw err
  }
}

function modulesIn(dir: string, names: Iterable<string>): Record<string, string> {
  return Object.fromEntries([...names].map((n) => [n, path.join(dir, n, `${n}.ko`)]))
}

/**
 * Every test/modules/* built for `kernel` (cached by a hash of their sources). Safe to call from
 * several processes at once.
 */
export async function ensureTestModules(kernel: Kernel): Promise<TestModules> {
  const sources = await readSources()
  const key = hashOf([layout, kernel.version], [...sources].flatMap(([n, files]) => files.map(([f, d]): [string, Buffer] => [`${n}/${f}`, d])))
  const base = path.join(testModulesCache, kernel.version)
  const dir = path.join(base, `mods-${key}`)
  const marker = path.join(dir, markerName)
  const result = { dir, modules: modulesIn(dir, sources.keys()) }
  if (await exists(marker)) return result
  await fs.mkdir(base, { recursive: true })
  return withLock(path.join(base, 'modules.lock'), async () => {
    if (await exists(marker)) return result
    await build(kernel, sources, dir)
    await fs.writeFile(marker, JSON.stringify({ layout, kernel: kernel.version, modules: [...sources.keys()] }, null, 2) + '\n')
    // builds of older sources are dead weight now
    for (const e of await fs.readdir(base)) if (e.startsWith('mods-') && e !== path.basename(dir)) await fs.rm(path.join(base, e), { recursive: true, force: true })
    return result
  })
}

export interface TestRootOptions {
  /** a label for the directory; roots with the same label and other contents replace each other */
  name: string
  /** files for lib/firmware: path below it -> contents */
  firmware?: Record<string, string | Uint8Array>
}

export interface TestRoot {
  /** for mkinitramfs --kernel-root */
  root: string
  kver: string
  /** root/lib/modules/<kver> */
  modulesDir: string
  /** root/lib/firmware */
  firmwareDir: string
  /** test module name -> its .ko inside the root (extra/<name>.ko) */
  modules: Record<string, string>
}

/** Generated by depmod; dropped from the hard-linked copy so depmod writes its own. */
const depmodOutputs = /^modules\.(dep|alias|symbols|softdep|devname|weakdep)(\.bin)?$|^modules\.builtin(\.alias)?\.bin$/

/**
 * A kernel root with the test modules and the given firmware, depmod'ed; cached by its
 * contents. Nothing in it may be changed by the caller: other runs share it.
 */
export async function ensureTestRoot(kernel: Kernel, opts: TestRootOptions): Promise<TestRoot> {
  if (!/^[\w.-]+$/.test(opts.name)) throw new Error(`test root name ${JSON.stringify(opts.name)}: use letters, digits, '.', '_' and '-'`)
  const mods = await ensureTestModules(kernel)
  const firmware = Object.entries(opts.firmware ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  for (const [rel] of firmware) if (rel.startsWith('/') || rel.split('/').includes('..')) throw new Error(`firmware path ${rel}: give it relative to lib/firmware`)
  const key = hashOf([layout, kernel.version, kernel.packageName, path.basename(mods.dir)], firmware.map(([f, d]): [string, Buffer] => [f, Buffer.from(d)]))
  const rootsDir = path.join(testModulesCache, kernel.version, 'roots')
  const label = `${opts.name}-${key}`
  const root = path.join(rootsDir, label)
  const marker = path.join(rootsDir, `${label}.json`)
  const modulesDir = path.join(root, 'lib', 'modules', kernel.version)
  const result: TestRoot = {
    root,
    kver: kernel.version,
    modulesDir,
    firmwareDir: path.join(root, 'lib', 'firmware'),
    modules: Object.fromEntries(Object.keys(mods.modules).map((n) => [n, path.join(modulesDir, 'extra', `${n}.ko`)])),
  }
  if (await exists(marker)) return result
  await fs.mkdir(rootsDir, { recursive: true })
  return withLock(path.join(rootsDir, `${opts.name}.lock`), async () => {
    if (await exists(marker)) return result
    const tmp = path.join(rootsDir, `${label}.tmp-${process.pid}`)
    await fs.rm(tmp, { recursive: true, force: true })
    try {
      const tmpModules = path.join(tmp, 'lib', 'modules', kernel.version)
      await fs.mkdir(path.dirname(tmpModules), { recursive: true })
      await run('cp', ['-al', kernel.modulesDir, tmpModules])
      for (const f of await fs.readdir(tmpModules)) if (depmodOutputs.test(f)) await fs.rm(path.join(tmpModules, f))
      await fs.mkdir(path.join(tmpModules, 'extra'))
      for (const [n, ko] of Object.entries(mods.modules)) await fs.copyFile(ko, path.join(tmpModules, 'extra', `${n}.ko`))
      await fs.mkdir(path.join(tmp, 'boot'))
      await fs.link(kernel.config, path.join(tmp, 'boot', path.basename(kernel.config)))
      await fs.mkdir(path.join(tmp, 'lib', 'firmware'))
      for (const [rel, data] of firmware) {
        const dest = path.join(tmp, 'lib', 'firmware', rel)
        await fs.mkdir(path.dirname(dest), { recursive: true })
        await fs.writeFile(dest, data)
      }
      await run((await findCommand('depmod')) ?? 'depmod', ['-b', tmp, kernel.version])
      for (const e of await fs.readdir(rootsDir)) {
        if (e.startsWith(`${opts.name}-`) && !e.startsWith(label) && !e.includes('.tmp-') && e.slice(opts.name.length + 1).match(/^[0-9a-f]{16}(\.json)?$/)) {
          await fs.rm(path.join(rootsDir, e), { recursive: true, force: true })
        }
      }
      await fs.rm(root, { recursive: true, force: true })
      await fs.rename(tmp, root)
    } catch (err) {
      await fs.rm(tmp, { recursive: true, force: true })
      throw err
    }
    await fs.writeFile(marker, JSON.stringify({ layout, kernel: kernel.version, name: opts.name, firmware: firmware.map(([f]) => f) }, null, 2) + '\n')
    return result
  })
}
