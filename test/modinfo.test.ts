// modinfo and the module-file readers under it (src/elf, src/compress), on modules built by
// test/fixtures/tools. Expected texts are what kmod 30's modinfo prints for the same files
// (kmod-tools-diff.test.ts checks that against the real kmod on every run).
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { parseElf, sectionStrings, findSection } from '../src/elf/elf.js'
import { readModinfo } from '../src/elf/modinfo.js'
import { readSignature, hexColumns } from '../src/elf/signature.js'
import { exportedSymbols, neededSymbols } from '../src/elf/symbols.js'
import { stripForForce } from '../src/elf/strip.js'
import { detectCompression, decompress, moduleImage, DecompressError } from '../src/compress/compress.js'
import { makeModinfoTool } from '../src/tools/modinfo.js'
import { makeDepmodTool } from '../src/tools/depmod.js'
import { appendSignature, buildElf, modinfoSection } from './fixtures/tools/elf-builder.js'
import { KVER, fixtureModules, moduleBytes, signatureDer, writeFixtureTree } from './fixtures/tools/tree.js'
import { runTool } from './fixtures/tools/io.js'

const root = mkdtempSync(join(tmpdir(), 'modload-modinfo-'))
t.teardown(() => rmSync(root, { recursive: true, force: true }))
const dir = writeFixtureTree(root, { withGzip: true })
const modinfo = makeModinfoTool({ release: () => KVER, cwd: () => root })

t.before(async () => {
  const r = await runTool(makeDepmodTool({ release: () => KVER, configPaths: [], cwd: () => root }), ['-b', root])
  if (r.code !== 0) throw new Error(`depmod failed: ${r.err}`)
})

t.test('ELF reader: header checks and kmod errnos', async (t) => {
  t.throws(() => parseElf(Buffer.from('#!/bin/sh\n'.padEnd(80)), 'x.ko'), { code: 'ENOEXEC', errno: 8 })
  const bad = buildElf({ sections: [] })
  bad[4] = 9
  t.throws(() => parseElf(bad, 'x.ko'), { code: 'EINVAL' })
  const short = buildElf({ sections: [] }).subarray(0, 70)
  t.throws(() => parseElf(short, 'short.ko'), { code: 'EINVAL', message: /short\.ko/ })
  for (const [bits, bigEndian] of [[64, false], [32, true], [32, false], [64, true]] as const) {
    const elf = parseElf(buildElf({ bits, bigEndian, sections: [{ name: '.modinfo', data: 'a=1\0' }] }), 'm.ko')
    t.same(readModinfo(elf), [{ key: 'a', value: '1' }], `${bits}-bit ${bigEndian ? 'BE' : 'LE'}`)
  }
})

t.test('NUL-separated strings split as kmod splits them', async (t) => {
  const strings = (data: string): string[] => {
    const elf = parseElf(buildElf({ sections: [{ name: 's', data }] }), 's.ko')
    return sectionStrings(elf, findSection(elf, 's')!)
  }
  t.same(strings('\0\0a=1\0\0\0b\0'), ['a=1', 'b'])
  t.same(strings('a\0bc'), ['a', 'bc'], 'a last string without NUL is kept')
  t.same(strings('x'), [], 'a single unterminated byte is nothing, as in kmod')
  t.same(strings(''), [])
  const elf = parseElf(buildElf({ sections: [{ name: '.modinfo', data: 'flag\0k=v=w\0' }] }), 'm.ko')
  t.same(readModinfo(elf), [{ key: 'flag', value: '' }, { key: 'k', value: 'v=w' }])
  t.throws(() => readModinfo(parseElf(buildElf({ sections: [] }), 'none.ko')), { code: 'ENOENT' })
})

t.test('exported and needed symbols', async (t) => {
  const mods = fixtureModules()
  const elfOf = (rel: string) => {
    const m = mods.find((x) => x.rel === rel)!
    return parseElf(buildElf(m.spec), rel)
  }
  t.same(exportedSymbols(elfOf('kernel/drivers/a/alpha.ko')), [
    { name: 'alpha_fn', crc: 0xdeadbeef },
    { name: 'alpha_data', crc: 0x12345678 },
  ])
  t.same(exportedSymbols(elfOf('kernel/drivers/b/beta-mod.ko')), [
    { name: 'beta_fn', crc: 0 },
    { name: 'beta_other', crc: 0 },
  ], 'no __crc_ symbols: __ksymtab_strings')
  t.same(exportedSymbols(elfOf('kernel/drivers/e/big32.ko')), [{ name: 'big32_fn', crc: 0x5eed }], 'SHN_ABS CRC, 32-bit big endian')
  t.throws(() => exportedSymbols(elfOf('kernel/drivers/e/devonly.ko')), { code: 'ENOENT' })
  t.same(neededSymbols(elfOf('kernel/drivers/c/gamma.ko.xz')), [
    { name: 'beta_fn', crc: 0, weak: false },
    { name: 'alpha_fn', crc: 0xdeadbee0, weak: false },
    { name: 'missing_weak', crc: 0, weak: true },
    { name: 'unknown_sym', crc: 0, weak: false },
  ])
  t.same(neededSymbols(elfOf('kernel/drivers/b/beta-mod.ko')), [
    { name: 'alpha_fn', crc: 0xdeadbeef, weak: false },
    { name: 'printk', crc: 0, weak: false },
    { name: 'module_layout', crc: 0xabcdef01, weak: false },
  ], 'unmatched __versions entries come last')
  t.throws(() => neededSymbols(elfOf('kernel/drivers/e/legacy-sig.ko')), { code: 'EINVAL' })
})

t.test('signatures: PKCS#7, legacy, unreadable', async (t) => {
  const base = buildElf({ sections: [{ name: '.modinfo', data: 'license=GPL\0' }] })
  const rsa = readSignature(appendSignature(base, { algo: 1, hash: 4, idType: 2, signature: signatureDer('rsa-sha256') }))
  t.equal(rsa?.idType, 'PKCS#7')
  t.equal(rsa?.signer, 'modload test key')
  t.equal(rsa?.hashAlgo, 'sha256')
  t.equal(hexColumns(rsa!.keyId), 'FF:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22', 'serial without its leading zero')
  t.equal(rsa?.signature.length, 256)
  const ec = readSignature(appendSignature(base, { algo: 1, hash: 4, idType: 2, signature: signatureDer('ec-sha512-nocn') }))
  t.equal(ec?.signer, 'unit', 'no commonName: the last name attribute, as OpenSSL-built kmod shows')
  t.equal(ec?.hashAlgo, 'sha512', 'the digest comes from the PKCS#7, not the header')
  t.equal(hexColumns(ec!.keyId), '07')
  t.equal(readSignature(appendSignature(base, { algo: 1, hash: 4, idType: 2, signature: signatureDer('rsa-keyid') })), null, 'CMS signer by key id: no info')
  t.equal(readSignature(appendSignature(base, { algo: 1, hash: 4, idType: 2, signature: Buffer.from('garbage') })), null)
  t.equal(readSignature(base), null)
  t.equal(readSignature(appendSignature(base, { algo: 2, hash: 4, idType: 2, signature: Buffer.from('x') })), null, 'unknown algorithm')
  const legacy = readSignature(
    appendSignature(base, { algo: 0, hash: 1, idType: 0, signer: Buffer.from('me'), keyId: Buffer.from([1, 2]), signature: Buffer.from([9]) }),
  )
  t.same(legacy && { ...legacy, keyId: [...legacy.keyId], signature: [...legacy.signature] }, {
    idType: 'PGP',
    signer: 'me',
    keyId: [1, 2],
    hashAlgo: 'md5',
    signature: [9],
  })
})

t.test('hex columns wrap after every 20 bytes', async (t) => {
  t.equal(hexColumns(new Uint8Array(0)), '')
  t.equal(hexColumns(Uint8Array.from([0, 255])), '00:FF')
  const forty = hexColumns(Uint8Array.from({ length: 41 }, (_, i) => i))
  t.equal(forty.split('\n\t\t').length, 3)
  t.match(forty, /^00:01:.*:13:\n\t\t14:.*:27:\n\t\t28$/s)
})

t.test('decompression by magic', async (t) => {
  const elf = buildElf({ sections: [{ name: '.modinfo', data: 'a=b\0' }] })
  for (const m of fixtureModules().filter((x) => x.compress)) {
    const bytes = moduleBytes(m)
    t.equal(detectCompression(bytes), m.compress, m.rel)
  }
  t.equal(detectCompression(elf), null)
  t.same(Buffer.compare(Buffer.from(await moduleImage(gzipSync(elf), 'x.ko.gz')), elf), 0)
  await t.rejects(decompress(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0, 1, 2, 3]), 'xz', 'broken.ko.xz'), DecompressError)
  await t.rejects(decompress(Buffer.from([0x1f, 0x8b, 1, 2]), 'gzip', 'broken.ko.gz'), { message: /broken\.ko\.gz: cannot decompress gzip/ })
})

t.test('strip for force: __versions loses SHF_ALLOC, vermagic is blanked', async (t) => {
  const elf = buildElf({
    sections: [
      { name: '.modinfo', data: modinfoSection(['license=GPL', 'vermagic=6.1 SMP', 'name=x'], 2) },
      { name: '__versions', data: Buffer.alloc(64) },
    ],
  })
  const s = stripForForce(elf, 'x.ko', { modversions: true, vermagic: true })
  t.same(s.missing, [])
  const parsed = parseElf(s.image, 'x.ko')
  t.same(readModinfo(parsed).map((e) => e.key), ['license', 'name'])
  const shoff = Number(Buffer.from(s.image).readBigUInt64LE(40))
  const idx = findSection(parsed, '__versions')!.index
  t.equal(Number(Buffer.from(s.image).readBigUInt64LE(shoff + idx * 64 + 8)) & 2, 0)
  t.equal(readModinfo(parseElf(elf, 'x.ko')).length, 3, 'the original is untouched')
  t.same(stripForForce(buildElf({ sections: [] }), 'y.ko', { modversions: true, vermagic: true }).missing, ['__versions', 'vermagic'])
})

const ALPHA = `filename:       ${dir}/kernel/drivers/a/alpha.ko
alias:          pci:v00001234d*sv*sd*bc*sc*i*
alias:          char-major-10-200
alias:          devname:alpha0
softdep:        pre: beta-mod
license:        GPL
averyveryverylongkey:     long keys pad too
flagonly:       
author:         Zoë Müller <zm@example.invalid>
depends:        
name:           alpha
vermagic:       ${KVER} SMP preempt mod_unload modversions 
parm:           level:the level
parm:           mode:charp
parm:           debug:enable debugging (int)
`

t.test('modinfo FILE: kmod layout, parameters last in kmod order', async (t) => {
  const r = await runTool(modinfo, [`${dir}/kernel/drivers/a/alpha.ko`])
  t.equal(r.code, 0)
  t.equal(r.err, '')
  t.equal(r.out, ALPHA)
  const rel = await runTool(modinfo, ['lib/modules/' + KVER + '/kernel/drivers/a/alpha.ko'])
  t.equal(rel.out.split('\n')[0], `filename:       ${root}/lib/modules/${KVER}/kernel/drivers/a/alpha.ko`, 'relative paths made absolute from the cwd')
})

t.test('modinfo -F, -0, -p, -n, -a/-d/-l', async (t) => {
  const alpha = `${dir}/kernel/drivers/a/alpha.ko`
  t.equal((await runTool(modinfo, ['-F', 'alias', alpha])).out, 'pci:v00001234d*sv*sd*bc*sc*i*\nchar-major-10-200\ndevname:alpha0\n')
  t.equal((await runTool(modinfo, ['-0', '-F', 'license', alpha])).out, 'GPL\0')
  t.equal((await runTool(modinfo, ['-p', alpha])).out, 'level:the level\nmode: (charp)\ndebug:enable debugging (int)\n')
  t.equal((await runTool(modinfo, ['-n', alpha])).out, `${alpha}\n`)
  t.equal((await runTool(modinfo, ['--field=nothing', alpha])).out, '')
  t.equal((await runTool(modinfo, ['-l', alpha])).out, 'GPL\n')
  const nul = (await runTool(modinfo, ['-0', alpha])).out
  t.ok(nul.startsWith(`filename:       ${alpha}\0alias=pci:`), 'with -0, key=value after the filename line')
  t.ok(nul.endsWith('parm:           debug:enable debugging (int)\0'))
})

t.test('modinfo of compressed modules shows the same as the plain file', async (t) => {
  for (const rel of ['kernel/drivers/c/gamma.ko.xz', 'kernel/drivers/c/delta.ko.zst', 'kernel/drivers/g/zeta.ko.gz']) {
    const r = await runTool(modinfo, [`${dir}/${rel}`])
    t.equal(r.code, 0, rel)
    t.match(r.out, /^filename: +\S+\nalias: /, rel)
  }
  const gamma = await runTool(modinfo, [`${dir}/kernel/drivers/c/gamma.ko.xz`])
  t.match(gamma.out, /\nsig_id:         PKCS#7\nsigner:         unit\nsig_key:        07\nsig_hashalgo:   sha512\nsignature:      30:/)
})

t.test('modinfo by name, alias, built-in', async (t) => {
  const b = ['-b', root, '-k', KVER]
  const beta = await runTool(modinfo, [...b, '-F', 'filename', 'beta-mod'])
  t.equal(beta.out, `${dir}/kernel/drivers/b/beta-mod.ko\n`)
  t.equal((await runTool(modinfo, [...b, '-F', 'filename', 'alpha'])).out, `${dir}/updates/alpha.ko\n`, 'modules.dep decides')
  t.equal((await runTool(modinfo, [...b, '-F', 'name', 'symbol:beta_fn'])).out, '')
  t.equal((await runTool(modinfo, [...b, '-n', 'symbol:beta_fn'])).out, `${dir}/kernel/drivers/b/beta-mod.ko\n`)
  const pci = await runTool(modinfo, [...b, '-n', 'pci:v00001234d00000001sv00000000sd00000000bc00sc00i00'])
  t.equal(pci.out, `${dir}/kernel/drivers/b/beta-mod.ko\n${dir}/updates/alpha.ko\n`, 'every match, in module order')
  const vp = await runTool(modinfo, [...b, 'virtio_pci'])
  t.equal(vp.out, 'name:           virtio_pci\nfilename:       (builtin)\nalias:          pci:v00001AF4d*sv*sd*bc*sc*i*\nlicense:        GPL\ndescription:    virtio-pci\nparm:           force_legacy:Force legacy mode (bool)\n')
  t.equal((await runTool(modinfo, [...b, '-F', 'name', 'bt-b-x'])).out, 'builtin_thing\n', 'alias of a built-in module')
  t.equal((await runTool(modinfo, [...b, '-m', '-F', 'filename', 'beta_mod.ko'])).out, `${dir}/kernel/drivers/b/beta-mod.ko\n`)
  const missing = await runTool(modinfo, [...b, 'no-such-thing'])
  t.same([missing.code, missing.out, missing.err], [1, '', 'modinfo: ERROR: Module no-such-thing not found.\n'])
  t.same((await runTool(modinfo, [...b, 'bad]alias'])).err, 'modinfo: ERROR: Module alias bad]alias not found.\n')
  t.same((await runTool(modinfo, [...b, '-m', 'nope'])).err, 'modinfo: ERROR: Module name nope not found.\n')
})

t.test('modinfo errors: kmod words, exit 1, other modules still shown', async (t) => {
  const r = await runTool(modinfo, [`${dir}/kernel/drivers/e/notelf.ko`, `${dir}/kernel/drivers/e/no-modinfo.ko`, `${dir}/kernel/drivers/e/devonly.ko`])
  t.equal(r.code, 1)
  t.equal(
    r.err,
    "modinfo: ERROR: could not get modinfo from 'notelf': Exec format error\n" +
      "modinfo: ERROR: could not get modinfo from 'no_modinfo': No such file or directory\n",
  )
  t.match(r.out, /filename: .*devonly\.ko\nalias:          devname:lonely\n/)
  t.same(await runTool(modinfo, []), { code: 1, out: '', err: 'modinfo: ERROR: missing module or filename.\n' })
  t.same(await runTool(modinfo, ['-q', 'x']), { code: 1, out: '', err: "modinfo: invalid option -- 'q'\n" })
  t.match((await runTool(modinfo, ['--help'])).out, /-F, --field=FIELD/)
})

t.test('a parm without ":" is reported and skipped', async (t) => {
  const p = join(root, 'badparm.ko')
  const fs = await import('node:fs')
  fs.writeFileSync(p, buildElf({ sections: [{ name: '.modinfo', data: modinfoSection(['parm=nocolon', 'parm=ok:fine']) }] }))
  const r = await runTool(modinfo, [p])
  t.equal(r.out, `filename:       ${p}\nparm:           ok:fine\n`)
  t.equal(r.err, 'modinfo: ERROR: Found invalid "parm=nocolon": missing \':\'\n')
  t.equal(readFileSync(p).length > 0, true)
})
