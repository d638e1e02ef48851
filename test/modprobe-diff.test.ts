// Differential test of modprobe's loading and removal paths against Debian's kmod, in dry run
// (-n) on the real 6.1 and 6.12 trees: every module with -a -n -v (which, unlike -D, skips
// what the host's /sys/module shows as live or built in), and a table of invocations whose
// stdout, stderr and exit code must all match: not found, -q, -a, --first-time, built-in
// modules, -r of loaded/unloaded/built-in modules, install and remove commands, bad -w,
// --show-modversions and --show-exports.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ensureKernel, type KernelFlavor } from '../qemu/kernels.js'
import { ensureDebianPackages } from '../qemu/deps.js'
import { projectRoot } from '../qemu/paths.js'
import { openModuleDir } from '../src/core/moddb-fs.js'
import { modprobeTool } from '../src/tools/modprobe.js'
import { runTool } from './fixtures/tools/io.js'

const FIXTURE = join(projectRoot, 'test', 'fixtures', 'config')
const CONFIG_ARGS = ['-C', join(FIXTURE, 'modprobe.d'), '-C', join(FIXTURE, 'override.d')]

function kmod(argv: string[]): { code: number; out: string; err: string } {
  const r = spawnSync('modprobe', argv, { encoding: 'latin1', maxBuffer: 1 << 28, env: { ...process.env, MODPROBE_OPTIONS: '' } })
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr }
}

t.before(async () => {
  await ensureDebianPackages(['kmod'])
})

for (const flavor of ['6.1', '6.12', '6.1-cloud'] as KernelFlavor[]) {
  t.test(`kernel ${flavor}`, async (t) => {
    const k = await ensureKernel(flavor)
    const base = ['-d', k.root, '-S', k.version]
    const db = openModuleDir(k.modulesDir)
    const names = [...db.modules.keys()]
    const file = (m: string): string => join(k.modulesDir, db.modules.get(m)!.path)
    const builtin = readFileSync(join(k.modulesDir, 'modules.builtin'), 'latin1').split('\n')[0].replace(/^.*\//, '').replace(/\.ko$/, '')

    t.test('-a -n -v over every module, host and fixture configuration', async (t) => {
      for (const extra of [[], CONFIG_ARGS, [...CONFIG_ARGS, '-i'], [...CONFIG_ARGS, '-b']]) {
        const argv = [...base, ...extra, '-a', '-n', '-v', ...names]
        const want = kmod(argv)
        const got = await runTool(modprobeTool, argv)
        const w = want.out.split('\n')
        const g = got.out.split('\n')
        const first = w.findIndex((l, i) => l !== g[i])
        t.ok(want.out === got.out && want.code === got.code, `${extra.length ? extra.slice(-1)[0] : 'host config'}: ${w.length - 1} lines`, {
          first: first < 0 ? null : { line: first + 1, kmod: w[first], ours: g[first] },
          codes: [want.code, got.code],
        })
      }
    })

    t.test('messages and exit codes', async (t) => {
      const cases: string[][] = [
        ['-n', 'nope'],
        ['-n', '-q', 'nope'],
        ['-n', '-a', 'nope', 'loop', 'nope2'],
        ['-n', '-v', 'loop', 'max_loop=4', 'x=a b'],
        ['-n', '-v', 'fs-vfat'],
        ['-n', '-v', builtin],
        ['-n', '--first-time', builtin],
        ['-r', '-n', '-v', 'nope'],
        ['-r', '-n', '-v', '-a', 'nope', 'dummy'],
        ['-r', '-n', '-v', 'dummy'],
        ['-r', '-n', '-v', '--first-time', 'dummy'],
        ['-r', '-n', '-v', builtin],
        ['-r', '-n', '-v', 'bridge'],
        ['-r', '-n', '-v', 'jbd2', 'loop'],
        ['-r', '-w', 'x', 'dummy'],
        ['-n', '-v', ...CONFIG_ARGS, 'dummy', 'a=1'],
        ['-n', '-v', ...CONFIG_ARGS, 'my-net'],
        ['-r', '-n', '-v', ...CONFIG_ARGS, 'dummy'],
        ['-r', '-n', '-v', ...CONFIG_ARGS, 'removeonly'],
        ['-r', '-n', '-v', '-i', ...CONFIG_ARGS, 'dummy'],
        ['-R', '-a', 'nope', 'fs-vfat'],
        ['--show-modversions', file('llc')],
        ['--show-exports', file('llc')],
        ['--show-exports', file('8021q')],
        ['--show-modversions', join(k.modulesDir, 'nope.ko')],
      ]
      const bad: string[] = []
      for (const c of cases) {
        const argv = [...base, ...c]
        const want = kmod(argv)
        const got = await runTool(modprobeTool, argv)
        // the fixture's bad config lines are reported in different words (libkmod logs them with
        // its source position; ours name file:line): compared elsewhere, dropped here
        want.err = want.err.replace(/^libkmod: .*\n/gm, '')
        got.err = got.err.replace(/^modprobe: WARNING: \S+\.conf:\d+: .*\n/gm, '')
        if (want.out !== got.out || want.err !== got.err || want.code !== got.code) bad.push(`${c.join(' ')}\n  kmod: ${JSON.stringify(want)}\n  ours: ${JSON.stringify(got)}`)
      }
      t.same(bad, [], `${cases.length} invocations: same stdout, stderr and exit code`)
    })
  })
}
