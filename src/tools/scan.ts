// `modload scan`: which drivers this machine needs. Reads the host facts from /sys (or from a
// capture, --sysfs), resolves each device's modalias against the target kernel's indexes and
// modprobe.d (under --kernel-root; the kernel command line is left out, so the host's
// modprobe.blacklist does not leak into an image for another machine) and prints a table or
// JSON, then a summary. --save DIR only writes the capture (host.ts) for another run.
import { parseArgs } from 'node:util'
import { existsSync } from 'node:fs'
import { kernelRelease } from '../sys/release.js'
import { openModuleDirFast, MissingIndexError } from '../core/moddb-fs.js'
import { loadModprobeConfig } from '../config/config-fs.js'
import { modulesDir } from '../paths.js'
import { readHostFacts, saveHostCapture } from '../image/host.js'
import { formatJson, formatTable, scanRows, summarize, summaryLine } from '../image/scan.js'
import type { Tool } from './io.js'

const USAGE = `usage: modload scan [--sysfs DIR] [--kernel-root ROOT] [-k KVER] [--json] [--save DIR]

  --sysfs DIR         read this sysfs (a copy, or a capture from --save) instead of /sys
  --kernel-root ROOT  directory holding lib/modules/KVER and etc/modprobe.d (default /)
  -k, --kver KVER     the target kernel's release (default: the running kernel's)
  --json              print the devices as a JSON array (the summary goes to stderr)
  --save DIR          write a capture of the sysfs to DIR (read back with --sysfs DIR) and stop
Module states: loaded, builtin (in the target's modules.builtin), available (a module of the
target, not loaded), none (nothing in the target kernel).`

export const scanTool: Tool = {
  name: 'scan',
  summary: 'list the devices in /sys and the modules they need',
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: {
        sysfs: { type: 'string' },
        'kernel-root': { type: 'string' },
        kver: { type: 'string', short: 'k' },
        json: { type: 'boolean' },
        save: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    })
    if (values.help) {
      io.out(USAGE + '\n')
      return 0
    }
    if (values.save !== undefined) {
      const entries = saveHostCapture(values.save, { sysfs: values.sysfs })
      io.err(`${values.save}: ${entries.length} entries captured (read them with: modload scan --sysfs ${values.save})\n`)
      return 0
    }
    const sysfs = values.sysfs ?? '/sys'
    if (!existsSync(`${sysfs}/devices`)) {
      io.err(`${io.prog}: ${sysfs}/devices: not found (give a sysfs, or a capture made with --save)\n`)
      return 1
    }
    const facts = readHostFacts({ sysfs, root: false })
    const root = values['kernel-root'] ?? '/'
    const dir = modulesDir(root, values.kver ?? kernelRelease())
    let db
    try {
      db = openModuleDirFast(dir)
    } catch (err) {
      if (err instanceof MissingIndexError) {
        io.err(`${io.prog}: ${err.message}\n`)
        return 1
      }
      throw err
    }
    const r = loadModprobeConfig({ root, modulesDir: dir, cmdline: '' })
    for (const w of r.warnings) io.err(`${io.prog}: WARNING: ${w.file}:${w.line}: ${w.message}\n`)
    const rows = scanRows(facts, db, r.config)
    const line = summaryLine(summarize(rows, facts)) + '\n'
    if (values.json) {
      io.out(formatJson(rows))
      io.err(line)
    } else {
      io.out(formatTable(rows) + line)
    }
    return 0
  },
}
