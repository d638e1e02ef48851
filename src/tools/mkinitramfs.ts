// `modload mkinitramfs`: build an initramfs with modload as /init.
import { parseArgs } from 'node:util'
import { release } from 'node:os'
import { COMPRESSIONS, mkinitramfs, type Compression } from '../initramfs/mkinitramfs.js'
import { UsageError, type Tool } from './io.js'

const USAGE = `usage: modload mkinitramfs -o OUT [--kernel-root ROOT] [-k KVER]
       [--modules all|NAME,...] [--compress KIND[:LEVEL]] [--init FILE] [--add SRC:DEST]...

  -o, --output FILE     the image to write
  --kernel-root ROOT    directory holding lib/modules/KVER (default /)
  -k, --kver KVER       kernel release (default: the running kernel's)
  --modules LIST        'all', or module names/aliases; dependencies are added (default all)
  --compress KIND[:N]   gzip (default, level 6), zstd (level 9), lz4 (level 1) or none
  --init FILE           program to install as /init (default: this executable)
  --add SRC:DEST        add a file to the image (replaces an entry at DEST)
Entries are sorted and stamped with SOURCE_DATE_EPOCH (else 0): same inputs, same bytes.`

export const mkinitramfsTool: Tool = {
  name: 'mkinitramfs',
  summary: 'build an initramfs with modload as /init',
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: {
        output: { type: 'string', short: 'o' },
        'kernel-root': { type: 'string' },
        kver: { type: 'string', short: 'k' },
        modules: { type: 'string' },
        compress: { type: 'string' },
        init: { type: 'string' },
        add: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    })
    if (values.help) {
      io.out(USAGE + '\n')
      return 0
    }
    if (!values.output) throw new UsageError(`-o OUT is required\n${USAGE}`)
    const [kind, levelText] = (values.compress ?? 'gzip').split(':')
    const compress = kind as Compression
    if (!COMPRESSIONS.includes(compress)) throw new UsageError(`--compress ${kind}: choose one of ${COMPRESSIONS.join(', ')}`)
    const level = levelText === undefined ? undefined : Number(levelText)
    if (level !== undefined && !(Number.isInteger(level) && level >= 1 && level <= 22)) {
      throw new UsageError(`--compress ${values.compress}: the level must be a whole number (gzip 1-9, zstd 1-22, lz4 1-12)`)
    }
    const add = (values.add ?? []).map((a) => {
      const i = a.lastIndexOf(':')
      if (i <= 0 || !a.slice(i + 1).startsWith('/')) throw new UsageError(`--add ${a}: expected SRC:/ABSOLUTE/DEST`)
      return { src: a.slice(0, i), dest: a.slice(i + 1) }
    })
    const epoch = process.env.SOURCE_DATE_EPOCH
    const mtime = epoch && /^\d+$/.test(epoch) ? Number(epoch) : 0
    const modules = !values.modules || values.modules === 'all' ? 'all' : values.modules.split(',').filter((m) => m.length > 0)
    const r = await mkinitramfs({
      output: values.output,
      init: values.init ?? process.execPath,
      kernelRoot: values['kernel-root'] ?? '/',
      kver: values.kver ?? release(),
      modules,
      compress,
      level,
      add,
      mtime,
    })
    io.err(
      `${values.output}: ${r.bytes} bytes (${compress}), ${r.entries} entries, ${r.modules.length} modules` +
        (r.builtin.length ? `, built in (not copied): ${r.builtin.join(' ')}` : '') +
        '\n',
    )
    return 0
  },
}
