// `modload install-hooks`: install (or --remove) the kernel hooks that build a modload
// initramfs whenever Debian installs a kernel and delete it when the kernel goes
// (src/image/kernel-hooks.ts), plus a commented /etc/modload/mkinitramfs.conf when there is
// none. `--image-path KVER` is what the hooks ask: where that kernel's image goes.
import { describeFileAction } from '../image/owned-files.js'
import { parseArgs } from 'node:util'
import { basename } from 'node:path'
import { imageOutput, mergeImageSettings } from '../image/config.js'
import { loadImageConfig } from '../image/config-fs.js'
import { installHooks, peerHooks, removeHooks, type HookAction } from '../image/kernel-hooks.js'
import { UsageError, type Tool } from './io.js'

const USAGE = `usage: modload install-hooks [--root DIR] [--modload PATH]
       modload install-hooks --remove [--root DIR]
       modload install-hooks --image-path KVER [--root DIR]

Installs /etc/kernel/postinst.d/zz-modload and /etc/kernel/postrm.d/zz-modload (mode 0755):
when Debian installs a kernel, the first builds its initramfs with "modload mkinitramfs"
where /etc/modload/mkinitramfs.conf's "output" says (default /boot/initrd.img-KVER); when
the kernel is removed, the second deletes that image. Writes a commented
/etc/modload/mkinitramfs.conf when there is none (an existing one is kept).

  --root DIR         install into the system at DIR (default /)
  --remove           delete the hooks (the configuration and the images stay)
  --modload PATH     the program the hooks run (default: this executable; "modload", found
                     on PATH, with --root)
  --image-path KVER  print the image path for kernel KVER from the configuration and stop`

/** The executable that is running, unless it is a bare Node running the sources. */
function runningModload(): string {
  return /^node(js)?\d*$/.test(basename(process.execPath)) ? 'modload' : process.execPath
}

function describe(a: HookAction): string {
  return describeFileAction(a, 'modload install-hooks', 'yours')
}

export const installHooksTool: Tool = {
  name: 'install-hooks',
  summary: 'install the kernel hooks that rebuild the initramfs when Debian installs a kernel',
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: {
        root: { type: 'string' },
        remove: { type: 'boolean' },
        modload: { type: 'string' },
        'image-path': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    })
    if (values.help) {
      io.out(USAGE + '\n')
      return 0
    }
    const root = values.root ?? '/'
    const kver = values['image-path']
    if (kver !== undefined) {
      if (kver === '' || kver.includes('/')) throw new UsageError(`--image-path ${kver}: expected a kernel release`)
      io.out(imageOutput(mergeImageSettings(loadImageConfig({ root }).config).output, kver) + '\n')
      return 0
    }
    if (values.remove) {
      if (values.modload !== undefined) throw new UsageError('--modload goes with installing, not --remove')
      const actions = removeHooks({ root })
      for (const a of actions) io.out(describe(a) + '\n')
      io.out('The configuration (/etc/modload/) and the images already built stay.\n')
      return actions.some((a) => a.kind === 'foreign') ? 1 : 0
    }

    const modload = values.modload ?? (root === '/' ? runningModload() : 'modload')
    for (const a of installHooks({ root, modload })) io.out(describe(a) + '\n')
    io.out(`The hooks run: ${modload}\n`)
    let output: string
    try {
      output = mergeImageSettings(loadImageConfig({ root }).config).output
    } catch (err) {
      io.err(`${(err as Error).message}\nThe hooks are installed, but will fail until the configuration is fixed.\n`)
      return 1
    }
    for (const peer of peerHooks(root)) {
      io.out(
        `Note: ${peer} is installed too and writes /boot/initrd.img-KVER; ` +
          (output === '/boot/initrd.img-%k'
            ? `modload's hook runs after it and its image wins when a kernel is installed, but that tool's own rebuilds (update-initramfs -u, run by package triggers) replace it. To keep both, set "output /boot/modload.img-%k" in /etc/modload/mkinitramfs.conf and point the boot loader at it.\n`
            : `modload writes ${output} instead; point the boot loader at it.\n`),
      )
    }
    const uname = '$(uname -r)'
    io.out(`Next, build the image for the running kernel:\n  modload mkinitramfs -k ${uname} -o ${imageOutput(output, uname)}\n`)
    return 0
  },
}
