// Paths and trust (issue 11): nothing an index, a modprobe.d line, a uevent or a kernel
// request says makes modload open a file outside the module directory or run a command,
// except modprobe.d install lines in the tools, as kmod does. The check is one function
// (src/core/module-path.ts), called by the one insertion path (src/load/insert.ts) for every
// file found through the indexes; these tests come at it from every door.
import t, { type Test } from 'tap'
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildModuleDb, type ModuleDb } from '../src/core/moddb.js'
import { checkModulePath, ModulePathError } from '../src/core/module-path.js'
import { buildConfig } from '../src/config/config.js'
import { coldplug } from '../src/init/coldplug.js'
import { describe } from '../src/init/report.js'
import { cmdlineWarnings } from '../src/init/system.js'
import { parseCmdline } from '../src/format/cmdline.js'
import { parseRequest, serveRequest } from '../src/load/forward.js'
import { insertModuleFile, probeInsert, type ProbeInsertContext } from '../src/load/insert.js'
import { loadWithDeps } from '../src/load/loader.js'
import { Prober } from '../src/core/probe.js'
import { lookup } from '../src/core/lookup.js'
import type { Sys } from '../src/sys/syscalls.js'

const ELF = '\x7fELF\x02\x01\x01\x00'

/** A module directory under a test dir: good.ko inside, a module outside it, and links. */
function tree(t: Test): { top: string; dir: string } {
  const top = t.testdir({
    outside: { 'evil.ko': ELF },
    lib: { modules: { k: { kernel: { 'good.ko': ELF, 'other.ko': ELF }, updates: {} }, k0: { extra: { 'shared.ko': ELF } } } },
  })
  const dir = join(top, 'lib/modules/k')
  symlinkSync(join(top, 'outside/evil.ko'), join(dir, 'updates/linked.ko'))
  symlinkSync('../kernel/good.ko', join(dir, 'updates/good_again.ko'))
  symlinkSync(join(top, 'outside'), join(dir, 'outdir'))
  mkdirSync(join(dir, 'weak-updates'))
  symlinkSync(join(top, 'lib/modules/k0/extra/shared.ko'), join(dir, 'weak-updates/shared.ko'))
  return { top, dir }
}

/** A kernel that records what it was asked to load. */
function recorder(): { sys: Pick<Sys, 'finitModule' | 'initModule' | 'finitModuleAsync'>; loads: string[] } {
  const loads: string[] = []
  return {
    loads,
    sys: {
      finitModule: (path: string) => void loads.push(path),
      finitModuleAsync: async (path: string) => void loads.push(path),
      initModule: (_b: Uint8Array, _p?: string, path = '') => void loads.push(path),
    },
  }
}

t.test('checkModulePath: inside is fine, `..`, absolute paths and links out are refused, naming the entry', async (t) => {
  const { top, dir } = tree(t)
  t.doesNotThrow(() => checkModulePath(dir, `${dir}/kernel/good.ko`), 'a relative entry')
  t.doesNotThrow(() => checkModulePath(dir, `${dir}/updates/good_again.ko`), 'a link that stays inside')
  t.doesNotThrow(() => checkModulePath(dir, `${dir}/kernel/missing.ko`), 'a missing file: the open that follows says so')
  t.doesNotThrow(() => checkModulePath(dir, `${dir}/weak-updates/shared.ko`), "a link into another kernel's directory beside it (weak-updates)")
  t.doesNotThrow(() => checkModulePath(`${dir}/`, `${dir}/kernel/./good.ko`), 'a trailing slash, a ./')
  t.throws(() => checkModulePath(dir, `${dir}/../../../outside/evil.ko`), {
    name: 'ModulePathError',
    code: 'EPERM',
    entry: '../../../outside/evil.ko',
    message: `${dir}/modules.dep: the entry "../../../outside/evil.ko" leads to ${top}/outside/evil.ko, outside the module directory ${dir}: refused (regenerate the index with depmod)`,
  })
  t.throws(() => checkModulePath(dir, `${dir}/kernel/../../k2/x.ko`), { name: 'ModulePathError' }, '.. out, then into a sibling')
  t.throws(() => checkModulePath(dir, '/etc/passwd'), { entry: '/etc/passwd', message: /entry "\/etc\/passwd" leads to \/etc\/passwd, outside/ }, 'an absolute path elsewhere')
  t.doesNotThrow(() => checkModulePath(dir, `${dir}/kernel/good.ko`.replace(dir, dir)), 'an absolute path inside (older depmods wrote those)')
  t.throws(() => checkModulePath(dir, `${dir}/updates/linked.ko`), { name: 'ModulePathError', message: /entry "updates\/linked\.ko" resolves, through a symbolic link, to .*outside\/evil\.ko/ })
  t.throws(() => checkModulePath(dir, `${dir}/outdir/evil.ko`), { name: 'ModulePathError' }, 'a linked directory out')
  t.throws(() => checkModulePath(`${dir}/kernel`, `${dir}/kernelx/a.ko`), { name: 'ModulePathError' }, 'a sibling whose name starts alike is not inside')
})

function dbOf(dir: string, dep: string, alias = ''): ModuleDb {
  return buildModuleDb(dir, { dep, alias })
}

const EVIL_DEP = ['kernel/good.ko:', '../../../outside/evil.ko:', '/etc/shadow.ko:', 'updates/linked.ko:', 'kernel/other.ko: updates/linked.ko', ''].join('\n')

t.test('modules.dep: the loader refuses entries out of the tree, loads the rest, never opens them', async (t) => {
  const { dir } = tree(t)
  const db = dbOf(dir, EVIL_DEP)
  const { sys, loads } = recorder()
  const ctx = { db, sys, live: new Set<string>(), failed: new Map(), kernelCompression: null, now: () => 0 }
  for (const name of ['evil', 'shadow', 'linked']) {
    const [r] = await loadWithDeps(ctx, name)
    t.equal(r.status, 'failed', `${name} fails`)
    t.match(describe(r), new RegExp(`^failed ${name}: .*modules\\.dep: the entry ".*" .*outside the module directory`), describe(r))
  }
  const other = await loadWithDeps(ctx, 'other')
  t.same(other.map((r) => [r.name, r.status, r.because]), [['other', 'skipped', 'linked']], 'a dependency out of the tree (refused above): the module that needs it is skipped')
  t.same((await loadWithDeps(ctx, 'good')).map((r) => r.status), ['loaded'])
  t.same(loads, [`${dir}/kernel/good.ko`], 'only the file inside was given to the kernel')
})

t.test('the insertion path: `within` is checked before any byte is read; insmod FILE is not checked', async (t) => {
  const { top, dir } = tree(t)
  const { sys, loads } = recorder()
  await t.rejects(insertModuleFile(sys, `${dir}/../../../outside/evil.ko`, '', false, { kernelCompression: () => null }, { within: dir }), ModulePathError)
  t.same(loads, [])
  await insertModuleFile(sys, `${top}/outside/evil.ko`, '', false, { kernelCompression: () => null })
  t.same(loads, [`${top}/outside/evil.ko`], 'a file a person names is theirs to load')
})

t.test('coldplug: an alias (modules.alias, modprobe.d) or a uevent MODALIAS leading out of the tree loads nothing', async (t) => {
  const { dir } = tree(t)
  const db = dbOf(dir, EVIL_DEP, 'alias pci:v0000DEADd* evil\nalias pci:v0000BEEFd* good\n')
  const config = buildConfig(
    [{ path: 'evil.conf', text: 'alias usb:v1234* ../../../../outside/evil\nalias acpi:X* /etc/shadow\nsoftdep good pre: evil\noptions good x=1\ninstall other /bin/rm -rf /\n' }],
    '',
  ).config
  const { sys, loads } = recorder()
  const results: string[] = []
  const report = await coldplug({
    db,
    config,
    sys,
    kernelCompression: null,
    live: new Set(),
    scan: () => ['pci:v0000DEADd0001', 'usb:v1234p0001', 'acpi:X1', 'pci:v0000BEEFd0001', 'platform:../../../outside/evil'],
    events: null,
    force: ['other', '../../../outside/evil', '/etc/shadow'],
    quietMs: 0,
    timeoutMs: 10_000,
    concurrency: 2,
    now: () => 0,
    sleep: () => ({ done: Promise.resolve(), cancel: () => undefined }),
    onResult: (r) => void results.push(describe(r)),
  })
  t.same(loads, [`${dir}/kernel/good.ko`], 'good is loaded (after its softdep failed), nothing else is opened')
  t.ok(results.some((l) => /^failed evil: .*outside the module directory/.test(l)), 'evil, wanted through modules.alias and a softdep, is refused')
  t.same(report.commands, [{ module: 'other', command: '/bin/rm -rf /' }], 'the install command is reported, not run')
  t.notOk(results.some((l) => l.includes('/bin/rm')), 'and nothing ran it')
  t.same(lookup(db, config, 'usb:v1234p0001')?.map((r) => r.name), ['../../../../outside/evil'], 'a modprobe.d alias gives a name, never a path')
  t.same(new Prober(db, config).plan({ name: '../../../../outside/evil', alias: 'usb:v1234p0001', source: 'config' }).actions, [{ kind: 'missing', name: '../../../../outside/evil' }], 'a name no modules.dep entry has is missing, not a file')
})

/** A ProbeInsertContext over `db`, with /sys/module states and a command runner that records. */
function probeCtx(t: Test, db: ModuleDb, states: Record<string, string> = {}, noCommands = false) {
  const sysModule = t.testdir(Object.fromEntries(Object.entries(states).map(([m, s]) => [m, { initstate: `${s}\n` }])))
  const { sys, loads } = recorder()
  const commands: string[] = []
  const c: ProbeInsertContext = {
    db,
    sys: () => sys as Sys,
    sysModule,
    report: { log() {}, error() {}, info() {}, show() {} },
    insertEnv: { kernelCompression: () => null },
    run: (cmd) => (commands.push(cmd), { status: 0 }),
    noCommands,
  }
  return { c, loads, commands }
}

t.test('modprobe (the tool): an entry out of the tree is refused with the line named, not only errno words', async (t) => {
  const { dir } = tree(t)
  const db = dbOf(dir, EVIL_DEP)
  const config = buildConfig([{ path: 'x.conf', text: '' }], '').config
  const c = probeCtx(t, db)
  const errors: string[] = []
  c.c.report = { ...c.c.report, error: (m) => void errors.push(m) }
  t.equal(await probeInsert(c.c, new Prober(db, config), lookup(db, config, 'evil')![0], {}), -1, '-EPERM')
  t.match(errors, [/modules\.dep: the entry "\.\.\/\.\.\/\.\.\/outside\/evil\.ko" leads to .*outside the module directory/])
  t.same(c.loads, [])
})

t.test('modprobe (the tool) runs install commands as kmod does; init serving the kernel never does', async (t) => {
  const { dir } = tree(t)
  const db = dbOf(dir, EVIL_DEP, 'alias crypto-good good\n')
  const config = buildConfig([{ path: 'x.conf', text: 'install good echo installing good\n' }], '').config
  const tool = probeCtx(t, db)
  const ref = lookup(db, config, 'good')![0]
  t.equal(await probeInsert(tool.c, new Prober(db, config), ref, {}), 0)
  t.same(tool.commands, ['echo installing good'], 'the tool runs it (kmod does)')
  const init = probeCtx(t, db, {}, true)
  const r = await serveRequest(init.c, config, 'good')
  t.equal(r.status, 1, 'init answers the kernel: failed')
  t.match(r.messages, [/install command 'echo installing good' for module good not run/])
  t.same(init.commands, [], 'nothing ran')
  t.same(init.loads, [], 'and nothing was loaded in its place')
})

t.test("the kernel's requests: only kmod's own call; paths out of the tree refused; a module coming is answered at once", async (t) => {
  t.match(parseRequest(['-q', '-C', '/tmp/evil.conf', '--', 'x']), { error: /unsupported option -C/ }, 'no config directory from outside')
  t.match(parseRequest(['-q', '-d', '/tmp', 'x']), { error: /unsupported option -d/ }, 'no module root from outside')
  t.match(parseRequest(['-q', '--', 'x', 'param=1']), { error: /expected one module/ }, 'no parameters')
  const { dir } = tree(t)
  const db = dbOf(dir, EVIL_DEP, 'alias crypto-evil evil\nalias fs-loop partner\n')
  const config = buildConfig([{ path: 'x.conf', text: '' }], '').config
  const evil = probeCtx(t, db, {}, true)
  t.match(await serveRequest(evil.c, config, 'crypto-evil'), { status: 1 }, 'an alias to a module out of the tree fails')
  t.same(evil.loads, [])
  const coming = probeCtx(t, dbOf(dir, 'kernel/good.ko:\n'), { good: 'coming' }, true)
  t.match(await serveRequest(coming.c, config, 'good', { comingWaitMs: 50, pollMs: 5 }), { status: 0, messages: [/good is still being loaded after 50 ms: answered 0/] }, 'still coming after the wait: 0 (a loop of requests)')
  t.same(coming.loads, [], 'no second finit_module, which would wait for the first one to end')
  const live = probeCtx(t, dbOf(dir, 'kernel/good.ko:\n'), { good: 'coming' }, true)
  const state = join(live.c.sysModule, 'good', 'initstate')
  setTimeout(() => writeFileSync(state, 'live\n'), 30)
  t.same(await serveRequest(live.c, config, 'good', { comingWaitMs: 5000, pollMs: 5 }), { status: 0, messages: [] }, 'coming, then live: answered when it is live (what needs it can use it)')
  t.same(live.loads, [])
  const gone = probeCtx(t, dbOf(dir, 'kernel/good.ko:\n'), { good: 'coming' }, true)
  setTimeout(() => rmSync(join(gone.c.sysModule, 'good'), { recursive: true }), 30)
  t.match(await serveRequest(gone.c, config, 'good', { comingWaitMs: 5000, pollMs: 5 }), { status: 0 }, 'coming, then gone (its load failed): loaded as modprobe would')
  t.same(gone.loads, [`${dir}/kernel/good.ko`])
})

t.test("garbage in modload's command-line options is named; names that cannot be modules too", async (t) => {
  const w = cmdlineWarnings(parseCmdline('modload.timeout=soon modload.jobs=-1 modload.quiet_ms=5 modload.load=a,../../x,/etc/passwd modload.handover=sideways modload.onfail modload.frob=1 modload.halt'))
  t.match(w, [
    /^modload\.timeout=soon: not a number/,
    /^modload\.jobs=-1: not a number/,
    /^modload\.load=a,\.\.\/\.\.\/x,\/etc\/passwd: "\.\.\/\.\.\/x", "\/etc\/passwd" cannot be module names/,
    /^modload\.handover=sideways: not one of early/,
    /^modload\.onfail: not one of poweroff/,
    /^modload\.frob=1: unknown option/,
  ])
  t.equal(w.length, 6, 'modload.quiet_ms=5 and modload.halt are fine')
})

t.test('the report says what a module file is: missing, not ELF', async (t) => {
  const dir = t.testdir({ 'text.ko': '#!/bin/sh\necho hi\n', 'empty.ko': '' })
  const sys = {
    finitModule: () => undefined,
    initModule: () => undefined,
    finitModuleAsync: async (path: string) => {
      const { SysError } = await import('../src/sys/syscalls.js')
      if (path.endsWith('missing.ko')) throw new SysError('open', 2, path)
      throw new SysError('finit_module', 8, path)
    },
  }
  const fail = async (p: string) => {
    try {
      await insertModuleFile(sys, p, '', false, { kernelCompression: () => null })
    } catch (error) {
      return describe({ name: 'm', status: 'failed', path: p, error: error as Error })
    }
    return 'loaded'
  }
  t.match(await fail(join(dir, 'text.ko')), /^failed m: ENOEXEC \(Invalid module format\): the file is not an ELF object nor a compressed one \(it starts with "#!\/b"\); /)
  t.match(await fail(join(dir, 'empty.ko')), /the file is empty/)
  t.match(await fail(join(dir, 'missing.ko')), /^failed m: ENOENT \(No such file or directory\): the module file is missing/)
  mkdirSync(join(dir, 'x'))
  writeFileSync(join(dir, 'x', 'elf.ko'), ELF)
  t.match(await fail(join(dir, 'x', 'elf.ko')), /^failed m: ENOEXEC \(Invalid module format\): the file is corrupt/, 'an ELF file the kernel refuses: the usual words')
})

t.test('modload.cpuprofile takes no value or a sampling interval; another value is named', async (t) => {
  t.same(cmdlineWarnings(parseCmdline('modload.cpuprofile')), [], 'bare: the default interval')
  t.same(cmdlineWarnings(parseCmdline('modload.cpuprofile=250')), [])
  t.same(cmdlineWarnings(parseCmdline('modload.cpuprofile=0')), [], 'off, as every flag takes 0')
  t.match(cmdlineWarnings(parseCmdline('modload.cpuprofile=fast')), [/^modload\.cpuprofile=fast: not a whole number of microseconds >= 50; 1000 is used/])
  t.match(cmdlineWarnings(parseCmdline('modload.cpuprofile=10')), [/^modload\.cpuprofile=10: not a whole number/])
})
