// Differential tests against Debian's kmod on the real trees of the QEMU harness (6.1 with
// plain .ko, 6.12 with .ko.xz): --show-depends for every module, tens of thousands of alias
// lookups compared with libkmod (through bench/kmod-peer.c, itself checked against
// `modprobe -R` and `modprobe -D` on samples), the modprobe.d fixture through -c/-D/-R with
// every flag combination, and kernel command lines (through a private mount namespace when
// the machine allows one). Zero differences expected: a difference prints the first few.
import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ensureKernel, type KernelFlavor } from '../qemu/kernels.js'
import { ensureDebianPackages } from '../qemu/deps.js'
import { cacheDir, projectRoot } from '../qemu/paths.js'
import { buildCorpus } from '../bench/corpus.js'
import { openModuleDir, openModuleDirFast } from '../src/core/moddb-fs.js'
import { lookup } from '../src/core/lookup.js'
import { Prober, formatAction } from '../src/core/probe.js'
import { loadModprobeConfig } from '../src/config/config-fs.js'
import { parseKcmdline } from '../src/config/kcmdline.js'
import { formatConfig } from '../src/config/show.js'
import { emptyConfig } from '../src/config/modprobe-conf.js'
import { modprobeTool } from '../src/tools/modprobe.js'

const FIXTURE = join(projectRoot, 'test', 'fixtures', 'config')
const CONFIG_ARGS = ['-C', join(FIXTURE, 'modprobe.d'), '-C', join(FIXTURE, 'override.d')]

async function ours(argv: string[]): Promise<{ out: string; code: number }> {
  let out = ''
  const code = await modprobeTool.run(argv, {
    prog: 'modprobe',
    out: (s) => (out += s),
    err: () => {},
    sys: () => {
      throw new Error('no syscalls in tests')
    },
    stdin: async () => '',
  })
  return { out, code }
}

function kmod(argv: string[]): { out: string; code: number } {
  const r = spawnSync('modprobe', argv, { encoding: 'latin1', maxBuffer: 1 << 28 })
  return { out: r.stdout, code: r.status ?? -1 }
}

/** Compare two outputs split into sections; report counts and the first differences. */
function firstDiffs(a: string[], b: string[], label: (i: number) => string, max = 5): string[] {
  const out: string[] = []
  for (let i = 0; i < Math.max(a.length, b.length) && out.length < max; i++) {
    if (a[i] !== b[i]) out.push(`${label(i)}\n  kmod: ${JSON.stringify(a[i])}\n  ours: ${JSON.stringify(b[i])}`)
  }
  return out
}

let peer = ''
t.before(async () => {
  await ensureDebianPackages(['kmod', 'libkmod-dev', 'gcc'])
  const dir = join(cacheDir, 'bench')
  mkdirSync(dir, { recursive: true })
  peer = join(dir, 'kmod-peer-test')
  execFileSync('gcc', ['-O2', '-o', peer, join(projectRoot, 'bench', 'kmod-peer.c'), '-lkmod'])
})

for (const flavor of ['6.1', '6.12', '6.1-cloud'] as KernelFlavor[]) {
  t.test(`kernel ${flavor}`, async (t) => {
    const k = await ensureKernel(flavor)
    const root = k.root
    const base = ['-d', root, '-S', k.version]
    const dir = k.modulesDir
    const rd = (f: string): string | undefined => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'latin1') : undefined)
    const db = openModuleDir(dir)
    const names = [...db.modules.keys()]

    t.test('--show-depends for every module, host configuration', async (t) => {
      const want = kmod([...base, '-a', '-D', ...names])
      const got = await ours([...base, '-a', '-D', ...names])
      t.equal(got.code, want.code, 'exit code')
      const ok = got.out === want.out
      if (!ok) {
        // find the modules whose output differs, one kmod process each
        const bad: string[] = []
        for (const n of names) {
          if (bad.length >= 5) break
          const w = kmod([...base, '-D', n]).out
          const g = (await ours([...base, '-D', n])).out
          if (w !== g) bad.push(`${n}\n  kmod: ${JSON.stringify(w)}\n  ours: ${JSON.stringify(g)}`)
        }
        t.fail(`--show-depends differs:\n${bad.join('\n')}`)
      } else t.pass(`${names.length} modules, ${want.out.split('\n').length - 1} lines identical`)
    })

    t.test('--show-depends for every module, fixture configuration, -i and -b', async (t) => {
      for (const flags of [[], ['-i'], ['-b']]) {
        const want = kmod([...base, ...CONFIG_ARGS, ...flags, '-a', '-D', ...names])
        const got = await ours([...base, ...CONFIG_ARGS, ...flags, '-a', '-D', ...names])
        t.ok(got.out === want.out && got.code === want.code, `flags [${flags.join(' ')}]: ${want.out.split('\n').length - 1} lines`)
      }
    })

    const corpus = buildCorpus({ alias: rd('modules.alias'), dep: rd('modules.dep')!, symbols: rd('modules.symbols'), builtin: rd('modules.builtin'), builtinModinfo: rd('modules.builtin.modinfo') })
    const input = corpus.join('\n') + '\n'

    // the boot path's database reads depmod's .bin files in place (core/moddb-bin.ts)
    const binDb = openModuleDirFast(dir)
    t.test('alias lookups against libkmod: lists, order and duplicates', async (t) => {
      t.equal(binDb.format, 'bin', 'the tree has its binary indexes')
      for (const [cfg, which] of [['none', 'text'], ['default', 'text'], ['default', 'bin']] as const) {
        const config = cfg === 'none' ? null : loadModprobeConfig({ modulesDir: dir }).config
        const want = execFileSync(peer, ['resolve', dir, ...(cfg === 'default' ? ['default'] : [])], { input, encoding: 'latin1', maxBuffer: 1 << 28 }).split('\n')
        want.pop()
        const from = which === 'bin' ? binDb : db
        const got = corpus.map((a) => `${a}\t${(lookup(from, config, a) ?? []).map((r) => r.name).join(' ')}`)
        t.equal(want.length, corpus.length, 'one answer per alias')
        let diffs = 0
        let setDiffs = 0
        let hits = 0
        for (let i = 0; i < corpus.length; i++) {
          if (want[i] !== got[i]) diffs++
          const w = new Set(want[i].split('\t')[1].split(' ').filter(Boolean))
          const g = new Set(got[i].split('\t')[1].split(' ').filter(Boolean))
          if (w.size !== g.size || [...w].some((x) => !g.has(x))) setDiffs++
          if (w.size > 0) hits++
        }
        t.equal(setDiffs, 0, `${which} index, config ${cfg}: ${corpus.length} aliases (${hits} resolve), sets differ: ${setDiffs}`)
        t.equal(diffs, 0, `${which} index, config ${cfg}: lists (order, duplicates) differ: ${diffs}`, { diffs: firstDiffs(want, got, (i) => corpus[i]) })
      }
    })

    t.test('binary database: every module entry and the built-in list as in the text one', async (t) => {
      let bad = 0
      for (const [name, e] of db.modules) {
        const b = binDb.modules.get(name)
        if (!b || b.path !== e.path || b.deps.join(' ') !== e.deps.join(' ')) bad++
      }
      t.equal(bad, 0, `${db.modules.size} modules.dep entries`)
      t.same([...binDb.modules.keys()], [...db.modules.keys()], 'iteration in depmod order')
      t.same([...binDb.builtin].sort(), [...db.builtin].sort(), 'modules.builtin')
      t.same(binDb.builtinAliases.dump(), db.builtinAliases.dump(), 'built-in aliases')
    })

    t.test('the peer answers as modprobe -R and -D do (sample)', async (t) => {
      const sample = corpus.filter((_, i) => i % Math.ceil(corpus.length / 150) === 0)
      const peerOut = execFileSync(peer, ['resolve', dir, 'default'], { input: sample.join('\n') + '\n', encoding: 'latin1' }).split('\n')
      let bad = 0
      sample.forEach((a, i) => {
        const r = kmod([...base, '-R', a]).out.split('\n').filter(Boolean).join(' ')
        if (`${a}\t${r}` !== peerOut[i]) bad++
      })
      t.equal(bad, 0, `${sample.length} aliases: modprobe -R and kmod-peer agree`)
      const dsample = sample.slice(0, 60)
      const peerD = execFileSync(peer, ['depends', dir, 'default'], { input: dsample.join('\n') + '\n', encoding: 'latin1' })
      const viaModprobe = dsample.map((a) => `### ${a}\n${kmod([...base, '-D', a]).out}`).join('')
      t.equal(peerD, viaModprobe, `${dsample.length} aliases: modprobe -D and kmod-peer agree`)
    })

    t.test('--show-depends for aliases against libkmod (every 8th of the corpus)', async (t) => {
      const config = loadModprobeConfig({ modulesDir: dir, paths: CONFIG_ARGS.filter((_, i) => i % 2 === 1) }).config
      const sample = corpus.filter((_, i) => i % 8 === 0)
      const want = execFileSync(peer, ['depends', dir, ...CONFIG_ARGS.filter((_, i) => i % 2 === 1)], { input: sample.join('\n') + '\n', encoding: 'latin1', maxBuffer: 1 << 28 })
      let got = ''
      for (const a of sample) {
        got += `### ${a}\n`
        const refs = lookup(db, config, a)
        if (!refs) continue
        const p = new Prober(db, config)
        for (const r of refs) for (const act of p.plan(r).actions) got += formatAction(act)
      }
      const w = want.split('### ')
      const g = got.split('### ')
      t.equal(got === want ? 0 : w.filter((x, i) => x !== g[i]).length, 0, `${sample.length} aliases, fixture config`, { diffs: firstDiffs(w, g, (i) => `#${i}`) })
    })

    t.test('modprobe.d fixture: -c, and -R/-D with every flag combination', async (t) => {
      const want = kmod([...base, ...CONFIG_ARGS, '-c'])
      const got = await ours([...base, ...CONFIG_ARGS, '-c'])
      t.ok(want.out === got.out, `-c: ${want.out.split('\n').length} lines`, { diffs: firstDiffs(want.out.split('\n'), got.out.split('\n'), (i) => `line ${i + 1}`) })
      const targets = ['my-net', 'fancy-x', 'pci:v00001AF4d00001000sv1sd1bc02sc00i00', 'virtio_net', 'e1000', 'pci:v00008086d0000100Esv0sd0bc02sc00i00', 'dummy', 'fakemod', 'removeonly', 'ext4', 'two-hits', 'from-alias-file', 'late-alias', 'loop', 'nested', 'crc32c', 'virtio_blk', 'cifs', 'nothing-at-all', 'bad[alias']
      let n = 0
      const bad: string[] = []
      for (const a of targets) {
        for (const flags of [['-D'], ['-R'], ['-D', '-i'], ['-D', '-b'], ['-R', '-b'], ['-D', '-b', '-i']]) {
          n++
          const argv = [...base, ...CONFIG_ARGS, ...flags, a, 'opt=1', 'b=x y']
          const w = kmod(argv)
          const g = await ours(argv)
          if (w.out !== g.out || w.code !== g.code) bad.push(`${flags.join(' ')} ${a}: kmod ${JSON.stringify(w)} ours ${JSON.stringify(g)}`)
        }
      }
      t.same(bad, [], `${n} invocations identical`)
    })
  })
}

t.test('kernel command lines, through a private mount namespace', async (t) => {
  const probeNs = spawnSync('unshare', ['-m', 'true'])
  if (probeNs.status !== 0) {
    t.comment('skipped: unshare -m is not permitted here')
    return
  }
  const tmp = mkdtempSync(join(cacheDir, 'kcmdline-'))
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }))
  const lines = [
    'quiet a.b=1 c-d.e=f_g foo.bar=1.5 x.y="a b" "p.q=r s" psmouse.proto modprobe.blacklist=m1,m-2,,m3 module_blacklist=zz',
    'a.b.c=d e=f.g h.i=j=k "k.l m" n."o=p" q.r="s t"x u.v -- w.x=1 y',
    'console=ttyS0\tfoo.tab=1\nbar.nl=2 modprobe.blacklist',
    '',
  ]
  for (const [i, line] of lines.entries()) {
    const f = join(tmp, `cmdline${i}`)
    writeFileSync(f, line + '\n')
    const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount --bind "${f}" /proc/cmdline && modprobe -C /dev/null -c`], { encoding: 'latin1' })
    if (r.status !== 0) {
      t.comment(`skipped: mount --bind over /proc/cmdline failed: ${r.stderr.trim()}`)
      return
    }
    const want = r.stdout.split('\n# End of configuration files')[0]
    const k = parseKcmdline(line + '\n')
    const cfg = emptyConfig()
    cfg.options.push(...k.options)
    cfg.blacklist.push(...k.blacklist)
    t.equal(formatConfig(cfg), want, `cmdline ${JSON.stringify(line)}`)
  }
})
