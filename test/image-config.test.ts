import t from 'tap'
import { chmodSync, symlinkSync, writeFileSync } from 'node:fs'
import {
  combineImageConfigs,
  emptyImageConfig,
  defaultConfigText,
  IMAGE_DEFAULTS,
  imageOutput,
  mergeImageSettings,
  MkInitramfsConfigError,
  parseAddFile,
  parseCompress,
  parseImageConfig,
  parseImageConfigFiles,
  parseModuleSelector,
  selectorText,
  type ModuleSelector,
} from '../src/image/config.js'
import { imageConfigFiles, loadImageConfig } from '../src/image/config-fs.js'
import { MkInitramfsError } from '../src/initramfs/errors.js'

const F = '/etc/modload/mkinitramfs.conf'
const parse = (text: string, file = F) => parseImageConfig(text, file)
const ok = (text: string, file = F) => {
  const r = parse(text, file)
  if (r.errors.length) throw new Error(`unexpected errors: ${JSON.stringify(r.errors)}`)
  return r.config
}
const sel = (s: ModuleSelector): string => `${s.remove ? '-' : ''}${s.optional ? '?' : ''}${s.kind}:${s.value}`
/** the single error of a one-line text, as FILE:LINE: MESSAGE */
const err = (text: string): string => {
  const r = parse(text)
  if (r.errors.length !== 1) throw new Error(`expected one error for ${JSON.stringify(text)}, got ${JSON.stringify(r.errors)}`)
  return new MkInitramfsConfigError(r.errors).message
}

t.test('every directive', async (t) => {
  const c = ok(`# a comment
   # an indented comment

modules host storage virtio_blk fs-ext4 kernel/drivers/ata/* -floppy ?zfs ?extra/*.ko -nvme
compress zstd:19
firmware no
firmware-exclude net input
strict-firmware yes
add /etc/crypttab /usr/share/keys/a.key:/etc/keys/a.key
cmdline quiet root=UUID=1234 rootflags="subvol=@ x"
output /boot/modload.img-%k
modprobe-d no
`)
  t.same(c.modules.items.map(sel), ['host:host', 'word:storage', 'word:virtio_blk', 'word:fs-ext4', 'glob:kernel/drivers/ata/*', '-word:floppy', '?word:zfs', '?glob:extra/*.ko', '-word:nvme'])
  t.equal(c.modules.items[0].at, `${F}:4`, 'each selector says where it was written')
  t.notOk(c.modules.reset)
  t.same(c.compress, { kind: 'zstd', level: 19 })
  t.equal(c.firmware, false)
  t.same(c.firmwareExclude.items, ['net', 'input'])
  t.equal(c.strictFirmware, true)
  t.same(c.add.items, [
    { src: '/etc/crypttab', dest: '/etc/crypttab', at: `${F}:9` },
    { src: '/usr/share/keys/a.key', dest: '/etc/keys/a.key', at: `${F}:9` },
  ])
  t.same(c.cmdline.items, ['quiet', 'root=UUID=1234', 'rootflags=subvol=@ x'], 'kernel quoting')
  t.equal(c.output, '/boot/modload.img-%k')
  t.equal(c.modprobeD, false)
  t.same(ok('modules all').modules.items.map(sel), ['all:all'])
  t.same(ok('compress none').compress, { kind: 'none' })
  t.same(ok('compress xz:0').compress, { kind: 'xz', level: 0 })
  t.same(ok('compress lz4').compress, { kind: 'lz4' })
  t.same(ok('compress = gzip:9').compress, { kind: 'gzip', level: 9 }, "'=' is allowed on single values")
  t.equal(ok('compress-runtime none').compressRuntime, 'none')
  t.equal(ok('compress-runtime same').compressRuntime, 'same', 'same: in the main archive')
  t.equal(ok('compress-modules archive').compressModules, 'archive')
  t.equal(ok('compress-modules each').compressModules, 'each')
  t.equal(ok('compress zstd').compressRuntime, undefined, "unset: the builder's default")
  t.equal(ok('firmware yes').firmware, true)
  t.equal(ok('modprobe-d yes').modprobeD, true)
  t.same(ok('add /a:b').add.items, [{ src: '/a:b', dest: '/a:b', at: `${F}:1` }], "a ':' not followed by an absolute path is part of SRC")
  t.equal(ok('output /boot/%%v-%k').output, '/boot/%%v-%k', "%% is a '%', not the start of %v")
  t.same(ok('').modules, { reset: false, items: [] }, 'an empty file says nothing')
})

t.test('later lines override single values, lists accumulate, "=" resets', async (t) => {
  const c = ok(`compress gzip
modules host
modules nvme
compress lz4:3
cmdline quiet
cmdline = loglevel=3
firmware-exclude net
firmware-exclude = input
add /a
add = /b
`)
  t.same(c.compress, { kind: 'lz4', level: 3 })
  t.same(c.modules.items.map(sel), ['host:host', 'word:nvme'])
  t.notOk(c.modules.reset)
  t.same(c.cmdline, { reset: true, items: ['loglevel=3'] })
  t.same(c.firmwareExclude, { reset: true, items: ['input'] })
  t.same(c.add.items.map((a) => a.src), ['/b'])
  const reset = ok('modules host\nmodules = nvme ahci\n')
  t.same(reset.modules, { reset: true, items: reset.modules.items })
  t.same(reset.modules.items.map(sel), ['word:nvme', 'word:ahci'])
  t.same(ok('cmdline =').cmdline, { reset: true, items: [] }, '"cmdline =" drops everything')
  t.same(ok('modules =\n').modules, { reset: true, items: [] })
})

t.test('continuation lines, CRLF, line numbers of joined lines', async (t) => {
  const c = ok('modules host \\\n  nvme \\\n  ahci\r\ncompress zstd\n')
  t.same(c.modules.items.map(sel), ['host:host', 'word:nvme', 'word:ahci'])
  t.equal(c.modules.items[2].at, `${F}:1`, 'a joined line counts as its first line')
  t.same(c.compress, { kind: 'zstd' })
  const r = parse('modules host \\\n  nvme\ncompres zstd\n')
  t.equal(r.errors[0].line, 3, 'lines after a joined line keep their numbers')
  t.same(ok('modules vir\\\ntio_blk').modules.items.map(sel), ['word:virtio_blk'], "the '\\' and newline go, nothing is put in their place")
  t.same(ok('modules host \\').modules.items.map(sel), ['host:host'], "a '\\' on the last line")
  t.same(ok('# comment \\\nmodules host').modules.items.map(sel), [], 'a continued comment is all comment (as modprobe.d)')
})

t.test('files in order: later files override, lists accumulate, a reset drops earlier files', async (t) => {
  const { config, errors } = parseImageConfigFiles([
    { path: F, text: 'modules host nvme\ncompress gzip\ncmdline quiet\noutput /boot/a-%k\n' },
    { path: `${F}.d/10-a.conf`, text: 'modules ahci\ncompress zstd\ncompress-runtime none\ncompress-modules archive\n' },
    { path: `${F}.d/20-b.conf`, text: 'modules = all -floppy\ncmdline loglevel=3\n' },
    { path: `${F}.d/30-c.conf`, text: 'modules ?zfs\n' },
  ])
  t.same(errors, [])
  t.same(config.modules.items.map(sel), ['all:all', '-word:floppy', '?word:zfs'])
  t.ok(config.modules.reset)
  t.equal(config.modules.items[2].at, `${F}.d/30-c.conf:1`)
  t.same(config.compress, { kind: 'zstd' })
  t.same(config.cmdline.items, ['quiet', 'loglevel=3'])
  t.equal(config.output, '/boot/a-%k', 'unset in later files: kept')
  t.equal(config.compressRuntime, 'none')
  t.equal(config.compressModules, 'archive')
  const merged = mergeImageSettings(config, { compressModules: 'each' })
  t.equal(merged.compressRuntime, 'none', "the file's value when no flag says")
  t.equal(merged.compressModules, 'each', 'a flag over the file')
  t.equal(mergeImageSettings(emptyImageConfig()).compressRuntime, undefined, "neither: the builder's default")
  t.same(combineImageConfigs([]).modules, { reset: false, items: [] })
})

t.test('every error names FILE:LINE, what is wrong and what is accepted', async (t) => {
  const cases: [string, RegExp][] = [
    ['compres zstd', /^\/etc\/modload\/mkinitramfs\.conf:1: unknown directive "compres" \(did you mean "compress"\?\); directives: modules, compress, compress-runtime, compress-modules, firmware, firmware-exclude, strict-firmware, add, cmdline, output, modprobe-d$/],
    ['module host', /:1: unknown directive "module" \(did you mean "modules"\?\)/],
    ['frobnicate x', /:1: unknown directive "frobnicate"; directives: /],
    ['modules=host', /:1: "modules=host": write "modules host" \(a space between directive and value; "modules = \.\.\." replaces earlier values\)/],
    ['modules', /:1: modules needs at least one selector: host, host-all, cpu, all, a class/],
    ['modules a,b', /:1: selector "a,b": separate selectors with spaces, not commas/],
    ['modules -', /:1: selector "-" names nothing/],
    ['modules ?', /:1: selector "\?" names nothing/],
    ['modules -?x', /:1: selector "-\?x": use either -NAME \(take out\) or \?NAME \(may be absent\), not both/],
    ['modules --x', /:1: selector "--x": one '-' or '\?' prefix at most/],
    ['modules ?host', /:1: selector "\?host": host always selects something/],
    ['modules "ahci"', /:1: selector ""ahci"": a module, alias, class or glob cannot contain quotes/],
    ['modules host # mine', /:1: "#": comments must be on a line of their own/],
    ['compress', /:1: compress needs a value: gzip, zstd, lz4, xz or none\[:LEVEL\]/],
    ['compress gzip zstd', /:1: compress takes one value \(gzip, zstd, lz4, xz or none\[:LEVEL\]\), got 2: gzip zstd/],
    ['compress gzp', /:1: unknown compression "gzp" \(did you mean "gzip"\?\): choose gzip, zstd, lz4, xz or none, optionally with :LEVEL/],
    ['compress bzip2', /:1: unknown compression "bzip2": choose gzip, zstd, lz4, xz or none/],
    ['compress gzip:10', /:1: gzip level must be a whole number from 1 to 9 \(got "10"\)/],
    ['compress-runtime lz4:3', /:1: "lz4:3": the runtime's archive takes no level \(it is compressed at lz4's default\); write lz4/],
    ['compress-runtime brotli', /:1: unknown compression "brotli": choose gzip, zstd, lz4, xz or none, optionally with :LEVEL, or same \(the main archive\)/],
    ['compress-runtime', /:1: compress-runtime needs a value: gzip, zstd, lz4, xz, none or same/],
    ['compress-modules zstd', /:1: "zstd": expected each or archive/],
    ['compress-modules each archive', /:1: compress-modules takes one value \(each or archive\), got 2: each archive/],
    ['compress zstd:0', /:1: zstd level must be a whole number from 1 to 22 \(got "0"\)/],
    ['compress lz4:x', /:1: lz4 level must be a whole number from 1 to 12 \(got "x"\)/],
    ['compress xz:', /:1: xz level must be a whole number from 0 to 9 \(got ""\)/],
    ['compress none:1', /:1: compression none takes no level \(got "none:1"\)/],
    ['compress =', /:1: compress = needs a value/],
    ['firmware maybe', /:1: firmware maybe: expected yes or no/],
    ['firmware', /:1: firmware needs a value: yes or no/],
    ['strict-firmware 1', /:1: strict-firmware 1: expected yes or no/],
    ['modprobe-d on', /:1: modprobe-d on: expected yes or no/],
    ['firmware-exclude', /:1: firmware-exclude needs at least one class/],
    ['firmware-exclude Net', /:1: firmware-exclude Net: a class name is lower-case letters, digits and '-'/],
    ['add', /:1: add needs a file: SRC\[:DEST\]/],
    ['add etc/x', /:1: add etc\/x: SRC must be an absolute path/],
    ['cmdline', /:1: cmdline needs words/],
    ['cmdline root="x', /:1: cmdline: unbalanced '"'/],
    ['cmdline quiet -- single', /:1: cmdline: "--" is not allowed/],
    ['output', /:1: output needs a value: an absolute path with %k/],
    ['output boot/x-%k', /:1: output boot\/x-%k: must be an absolute path/],
    ['output /boot/initrd.img', /:1: output \/boot\/initrd.img: must contain %k \(the kernel release\)/],
    ['output /boot/x-%%k', /:1: output \/boot\/x-%%k: must contain %k/],
    ['output /boot/x-%v', /:1: output \/boot\/x-%v: unknown "%v": %k is the kernel release, %% a '%'/],
    ['output /boot/x-%k%', /:1: output \/boot\/x-%k%: unknown "%"/],
    ['output /a-%k /b-%k', /:1: output takes one value/],
    ['modules host \\ \nmodules nvme', /:1: blanks after the '\\' at the end of the line/],
  ]
  for (const [text, want] of cases) t.match(err(text), want, text)
  // several errors: all of them, each with its own line, and the good lines still parsed
  const r = parse('modules host\ncompres zstd\n\nfirmware maybe\ncompress lz4\n')
  t.same(r.errors.map((e) => e.line), [2, 4])
  t.same(r.config.compress, { kind: 'lz4' })
  const e = new MkInitramfsConfigError(r.errors)
  t.ok(e instanceof MkInitramfsError, 'an image-building error, as the tool reports them')
  t.equal(e.message.split('\n').length, 2)
  t.equal(e.errors.length, 2)
})

t.test('validation hooks: what only the caller knows', async (t) => {
  const classes = ['storage', 'net']
  const r = parseImageConfig('modules storage ?storage virtio_blk\nfirmware-exclude net gpu\n', F, {
    validate: {
      selector: (s) => (s.optional && classes.includes(s.value) ? `selector "?${s.value}": a class always exists` : undefined),
      firmwareClass: (n) => (classes.includes(n) ? undefined : `unknown class "${n}"`),
    },
  })
  t.same(r.errors.map((e) => `${e.line}: ${e.message}`), ['1: selector "?storage": a class always exists', '2: unknown class "gpu"'])
  t.same(r.config.modules.items.map(sel), ['word:storage', 'word:virtio_blk'])
  t.same(r.config.firmwareExclude.items, ['net'])
})

t.test('mergeImageSettings: defaults, then files, then flags', async (t) => {
  t.same(mergeImageSettings(combineImageConfigs([])), IMAGE_DEFAULTS, 'nothing said: the defaults')
  const file = ok('modules -floppy\ncompress gzip:9\nfirmware no\ncmdline quiet\nadd /a\noutput /boot/m-%k\nfirmware-exclude net\n')
  const s = mergeImageSettings(file)
  t.same(s.modules.map(sel), ['host:host', 'word:usb-host', 'word:input', '-word:floppy'], 'the list starts from the default (classes.ts DEFAULT_SELECTORS)')
  t.same(s.modules.map(selectorText), ['host', 'usb-host', 'input', '-floppy'], 'as words for parseSelectors')
  t.same(s.compress, { kind: 'gzip', level: 9 })
  t.same(mergeImageSettings(ok('')).compress, { kind: 'zstd' }, 'zstd by default')
  t.equal(s.firmware, false)
  t.equal(s.strictFirmware, false)
  t.equal(s.modprobeD, true)
  t.same(s.cmdline, ['quiet'])
  t.equal(s.output, '/boot/m-%k')
  t.same(mergeImageSettings(ok('modules = host')).modules.map(sel), ['host:host'], 'a reset drops the default')
  const flags = {
    modules: [{ kind: 'word', value: 'nvme', remove: false, optional: false, at: '--modules' }] as ModuleSelector[],
    compress: { kind: 'lz4' as const },
    firmware: true,
    firmwareExclude: ['input'],
    strictFirmware: true,
    add: [{ src: '/b', dest: '/c', at: '--add' }],
    cmdline: ['loglevel=7'],
    output: '/tmp/x-%k',
    modprobeD: false,
  }
  const f = mergeImageSettings(file, flags)
  t.same(f.modules.map(sel), ['word:nvme'], '--modules is the whole list')
  t.same(f.compress, { kind: 'lz4' })
  t.equal(f.firmware, true)
  t.same(f.firmwareExclude, ['input'])
  t.equal(f.strictFirmware, true)
  t.same(f.add.map((a) => `${a.src}:${a.dest}`), ['/a:/a', '/b:/c'], '--add comes after the files')
  t.same(f.cmdline, ['loglevel=7'])
  t.equal(f.output, '/tmp/x-%k')
  t.equal(f.modprobeD, false)
  t.same(file.modules.items.map(sel), ['-word:floppy'], 'pure: the file config is unchanged')
  const custom = mergeImageSettings(file, {}, { ...IMAGE_DEFAULTS, modules: [{ kind: 'host', value: 'host', remove: false, optional: false, at: 'default' }] })
  t.same(custom.modules.map(sel), ['host:host', '-word:floppy'], 'defaults are a parameter')
})

t.test('the values the tool parses from its flags the same way', async (t) => {
  t.same(parseCompress('zstd:3'), { value: { kind: 'zstd', level: 3 } })
  t.match(parseCompress('zst'), { error: /did you mean "zstd"/ })
  t.same(parseModuleSelector('-ahci', '--modules'), { value: { kind: 'word', value: 'ahci', remove: true, optional: false, at: '--modules' } })
  t.same(parseAddFile('/x:/y', '--add'), { value: { src: '/x', dest: '/y', at: '--add' } })
  t.match(parseAddFile('/x:y/z', '--add'), { value: { src: '/x:y/z' } })
  t.equal(imageOutput('/boot/initrd.img-%k', '6.1.0-9-amd64'), '/boot/initrd.img-6.1.0-9-amd64')
  t.equal(imageOutput('/boot/%%k-%k', 'v'), '/boot/%k-v')
})

t.test('the default configuration text parses to the defaults', async (t) => {
  const text = defaultConfigText()
  t.same(ok(text), combineImageConfigs([]), 'every line commented out')
  const uncommented = text
    .split('\n')
    // compress-runtime and compress-modules show what their unset default usually comes to
    // (it depends on the kernel and on compress): examples, as cmdline's and add's are
    .filter((l) => /^#[a-z]/.test(l) && !l.includes('CLASS...') && !l.includes('#cmdline') && !l.includes('#add') && !l.startsWith('#compress-'))
    .map((l) => l.slice(1))
    .join('\n')
  t.match(uncommented, /^modules = host usb-host input$/m)
  t.match(uncommented, /^compress zstd$/m)
  const stated = mergeImageSettings(ok(uncommented))
  t.same(stated.modules.map(sel), IMAGE_DEFAULTS.modules.map(sel))
  t.same({ ...stated, modules: [] }, { ...IMAGE_DEFAULTS, modules: [] }, 'the commented lines state the defaults')
})

t.test('reading the files under a root', async (t) => {
  const root = t.testdir({
    etc: {
      modload: {
        'mkinitramfs.conf': 'modules host\ncompress gzip\n',
        'mkinitramfs.conf.d': {
          '20-b.conf': 'compress zstd\n',
          '10-a.conf': 'modules nvme\n',
          'B-upper.conf': 'modules ahci\n',
          '.hidden.conf': 'compres x\n',
          'notes.txt': 'compres x\n',
          '30-c.conf.dpkg-old': 'compres x\n',
          'dir.conf': {},
        },
      },
    },
  })
  symlinkSync('/nonexistent', `${root}/etc/modload/mkinitramfs.conf.d/40-dangling.conf`)
  const d = `${root}/etc/modload/mkinitramfs.conf.d`
  t.same(imageConfigFiles(root), [`${root}/etc/modload/mkinitramfs.conf`, `${d}/10-a.conf`, `${d}/20-b.conf`, `${d}/B-upper.conf`], 'name (byte) order; only *.conf files')
  const { config, files } = loadImageConfig({ root })
  t.equal(files.length, 4)
  t.same(config.modules.items.map(sel), ['host:host', 'word:nvme', 'word:ahci'])
  t.same(config.compress, { kind: 'zstd' })
  t.equal(config.modules.items[1].at, `${d}/10-a.conf:1`)

  t.same(loadImageConfig({ root, noConfig: true }).files, [], '--no-config')
  t.same(loadImageConfig({ root, noConfig: true, path: '/nonexistent' }).files, [], '--no-config wins over --config')
  const one = `${root}/other.conf`
  writeFileSync(one, 'compress lz4\n')
  const only = loadImageConfig({ root, path: one })
  t.same(only.files, [one], '--config FILE: that file only')
  t.same(only.config.compress, { kind: 'lz4' })
  t.throws(() => loadImageConfig({ path: `${root}/missing.conf` }), { name: 'MkInitramfsConfigError', message: `${root}/missing.conf: --config: ENOENT` })
  t.throws(() => loadImageConfig({ path: d }), { message: `${d}: --config: not a regular file` })

  const empty = t.testdir({})
  t.same(loadImageConfig({ root: empty }), { config: combineImageConfigs([]), files: [] }, 'no files: nothing said')
  t.same(imageConfigFiles(`${empty}/`), [])
})

t.test('errors across files: all of them, one exception', async (t) => {
  const root = t.testdir({
    etc: { modload: { 'mkinitramfs.conf': 'modules host\ncompres zstd\n', 'mkinitramfs.conf.d': { 'a.conf': '\n\nfirmware-exclude gpu-made-up\nfirmware maybe\n' } } },
  })
  const e = t.throws(() => loadImageConfig({ root })) as unknown as MkInitramfsConfigError
  t.equal(e.name, 'MkInitramfsConfigError')
  t.same(e.message.split('\n'), [
    `${root}/etc/modload/mkinitramfs.conf:2: unknown directive "compres" (did you mean "compress"?); directives: modules, compress, compress-runtime, compress-modules, firmware, firmware-exclude, strict-firmware, add, cmdline, output, modprobe-d`,
    `${root}/etc/modload/mkinitramfs.conf.d/a.conf:3: ${e.errors[1].message}`,
    `${root}/etc/modload/mkinitramfs.conf.d/a.conf:4: firmware maybe: expected yes or no`,
  ])
  t.match(e.errors[1].message, /^unknown class "gpu-made-up"; classes: storage, .*nvme/, 'firmware-exclude is checked against the driver classes by default')
  writeFileSync(`${root}/b.conf`, 'firmware-exclude gpu-made-up\n')
  t.same(loadImageConfig({ path: `${root}/b.conf`, validate: {} }).config.firmwareExclude.items, ['gpu-made-up'], 'the caller may pass its own checks')
})

t.test('an unreadable file is an error naming it', { skip: process.getuid?.() === 0 ? 'root reads everything' : false }, async (t) => {
  const root = t.testdir({ etc: { modload: { 'mkinitramfs.conf': 'modules host\n' } } })
  chmodSync(`${root}/etc/modload/mkinitramfs.conf`, 0)
  t.throws(() => loadImageConfig({ root }), { message: `${root}/etc/modload/mkinitramfs.conf: cannot read: EACCES` })
})

t.test('a .d that is not a directory', async (t) => {
  const root = t.testdir({ etc: { modload: { 'mkinitramfs.conf.d': 'a file' } } })
  t.same(imageConfigFiles(root), [])
})
