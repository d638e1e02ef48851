// `modload integrate initramfs-tools|dracut`: install (or --remove) modload's hook for the
// builder (src/integrate/integrate.ts) and say what to run next. Two more forms are what the
// installed scripts call at image build time: `--selection` (modload's module and firmware
// picks for a kernel, one per line, from `modload mkinitramfs --json`) and, for
// initramfs-tools, `--boot-script init-top|init-bottom` (the script the hook puts in the image).
import { describeFileAction } from '../image/owned-files.js'
import { parseArgs } from 'node:util'
import { basename } from 'node:path'
import { BOOT_SCRIPTS, BUILDERS, bootScript, FILES, installIntegration, isBuilder, NEXT_STEP, removeIntegration, runtimeArchive, selectionLines, type BootScript, type IntegrateAction } from '../integrate/integrate.js'
import { readFileSync } from 'node:fs'
import { sourceDateEpoch, writeImage } from '../initramfs/output.js'
import { mkinitramfsTool } from './mkinitramfs.js'
import { UsageError, type Tool, type ToolIo } from './io.js'

const USAGE = `usage: modload integrate initramfs-tools|dracut [--root DIR] [--modload PATH]
       modload integrate initramfs-tools|dracut --remove [--root DIR]

Makes the next initramfs that Debian's initramfs-tools (update-initramfs) or dracut builds
load its drivers with modload's coldplug (the root mount, fsck and resume stay the builder's):
  initramfs-tools  /etc/initramfs-tools/hooks/modload, /etc/initramfs-tools/conf.d/modload
  dracut           /usr/lib/dracut/modules.d/90modload/, /etc/dracut.conf.d/90-modload.conf
The image gets this executable, the modules and firmware modload's selection picks
(/etc/modload/mkinitramfs.conf, default host usb-host input) and a boot step that runs
"modload coldplug" instead of udev's coldplug; when the root device is not there afterwards,
udev does it as before and the reason is in the kernel log. Settings: the conf files above.

  --root DIR       install into the system at DIR (default /)
  --remove         delete the files (only those modload wrote)
  --modload PATH   the executable the image gets (default: this one; /usr/sbin/modload with --root)

Called by the installed scripts:
  --selection -k KVER [--kernel-root DIR] [-- MKINITRAMFS-ARGS]   "module NAME", "firmware PATH"
  --boot-script init-top|init-bottom|udevadm                       (initramfs-tools)
  --runtime-cpio FILE [--modload PATH]   the executable alone in an uncompressed cpio archive,
                                         for MODLOAD_RUNTIME=early (initramfs-tools)`

/** The executable that is running, unless it is a bare Node running the sources. */
function runningModload(): string {
  return /^node(js)?\d*$/.test(basename(process.execPath)) ? '/usr/sbin/modload' : process.execPath
}

function describe(a: IntegrateAction): string {
  return describeFileAction(a, 'modload integrate', 'settings already there')
}

/** --runtime-cpio: an uncompressed one-segment image, written as mkinitramfs writes its own. */
async function writeRuntimeArchive(out: string, modload: string): Promise<void> {
  let exe: Buffer
  try {
    exe = readFileSync(modload)
  } catch (err) {
    throw new Error(`--runtime-cpio: cannot read the executable ${modload}: ${(err as Error).message}`)
  }
  await writeImage([{ entries: runtimeArchive(exe), compress: 'none' }], sourceDateEpoch(process.env), out)
}

/** `modload mkinitramfs --json` for the kernel, as lines for the scripts. */
async function selection(kver: string, kernelRoot: string | undefined, extra: string[], io: ToolIo): Promise<number> {
  let json = ''
  const captured: ToolIo = { ...io, out: (t) => void (json += t) }
  const args = ['--json', '-k', kver, ...(kernelRoot ? ['--kernel-root', kernelRoot] : []), ...extra]
  const code = await mkinitramfsTool.run(args, captured)
  if (code !== 0) return code
  io.out(selectionLines(JSON.parse(json) as Parameters<typeof selectionLines>[0]))
  return 0
}

export const integrateTool: Tool = {
  name: 'integrate',
  summary: "make initramfs-tools' or dracut's next image load drivers with modload",
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: {
        root: { type: 'string' },
        remove: { type: 'boolean' },
        modload: { type: 'string' },
        selection: { type: 'boolean' },
        kver: { type: 'string', short: 'k' },
        'kernel-root': { type: 'string' },
        'boot-script': { type: 'string' },
        'runtime-cpio': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    })
    if (values.help) {
      io.out(USAGE + '\n')
      return 0
    }
    const [builder, ...rest] = positionals
    if (builder === undefined) throw new UsageError(`name a builder: ${BUILDERS.join(' or ')}`)
    if (!isBuilder(builder)) throw new UsageError(`${builder}: unknown builder; known: ${BUILDERS.join(', ')}`)

    if (values.selection) {
      if (!values.kver) throw new UsageError('--selection needs -k KVER')
      return selection(values.kver, values['kernel-root'], rest, io)
    }
    if (rest.length) throw new UsageError(`unexpected argument: ${rest[0]}`)
    const archive = values['runtime-cpio']
    if (archive !== undefined) {
      if (builder !== 'initramfs-tools') throw new UsageError('--runtime-cpio is for initramfs-tools (MODLOAD_RUNTIME=early)')
      await writeRuntimeArchive(archive, values.modload ?? runningModload())
      return 0
    }
    const which = values['boot-script']
    if (which !== undefined) {
      if (builder !== 'initramfs-tools' || !(BOOT_SCRIPTS as readonly string[]).includes(which)) {
        throw new UsageError(`--boot-script: initramfs-tools has ${BOOT_SCRIPTS.join(', ')}`)
      }
      io.out(bootScript(which as BootScript))
      return 0
    }

    const root = values.root ?? '/'
    if (values.remove) {
      if (values.modload !== undefined) throw new UsageError('--modload goes with installing, not --remove')
      const actions = removeIntegration({ builder, root })
      for (const a of actions) io.out(describe(a) + '\n')
      if (actions.some((a) => a.kind === 'deleted')) io.out(`Next, rebuild the image without modload:\n  ${NEXT_STEP[builder]}\n`)
      return actions.some((a) => a.kind === 'foreign') ? 1 : 0
    }
    const modload = values.modload ?? (root === '/' ? runningModload() : '/usr/sbin/modload')
    if (!modload.startsWith('/')) throw new UsageError(`--modload ${modload}: give an absolute path (the builder runs it and copies it into the image)`)
    for (const a of installIntegration({ builder, root, modload })) io.out(describe(a) + '\n')
    io.out(`The image gets: ${modload}\nSettings: ${FILES[builder].filter((f) => f.settings).map((f) => f.path).join(', ')}\n`)
    io.out(`Next, rebuild the image:\n  ${NEXT_STEP[builder]}\nUndo: modload integrate ${builder} --remove, then ${NEXT_STEP[builder]}\n`)
    return 0
  },
}
