// The fuzz targets: every parser that reads input from outside modload, each with its corpus
// (corpus.ts), how to drive it (parse, then ask what its callers ask: lookups, iteration) and
// which errors are its own. The contract each target checks (harness.ts): the parser returns
// a value or throws its own error type naming the input's file (and position, where the
// format has one); never a TypeError, RangeError or other stray error, never a hang, and what
// it returns stays bounded by its input.
import { IndexError } from '../../src/format/errors.js'
import { parseModulesDep, lazyModulesDep } from '../../src/format/modules-dep.js'
import { parseModulesAlias } from '../../src/format/modules-alias.js'
import { parseModulesSymbols } from '../../src/format/modules-symbols.js'
import { parseModuleList } from '../../src/format/modules-builtin.js'
import { parseModulesDevname } from '../../src/format/modules-devname.js'
import { parseBuiltinModinfo, builtinAliases } from '../../src/format/modules-builtin-modinfo.js'
import { parseProcModules } from '../../src/format/proc-modules.js'
import { BinIndex } from '../../src/format/index-bin.js'
import { parseCmdline, flag } from '../../src/format/cmdline.js'
import { probeFilesystem } from '../../src/format/blkid.js'
import { parsePartitionTable } from '../../src/format/blkid-parts.js'
import { aliasIndexFromText, buildAliasIndex } from '../../src/core/alias-index.js'
import { buildModuleDbFromBin } from '../../src/core/moddb-bin.js'
import { parseModprobeConf } from '../../src/config/modprobe-conf.js'
import { parseKcmdline } from '../../src/config/kcmdline.js'
import { parseUevent } from '../../src/init/uevent.js'
import { imageCmdlineWords, withImageCmdline } from '../../src/init/cmdline-file.js'
import { parseImageConfig } from '../../src/image/config.js'
import { parseElf, findSection } from '../../src/elf/elf.js'
import { ModuleFormatError } from '../../src/elf/errors.js'
import { readModinfo } from '../../src/elf/modinfo.js'
import { exportedSymbols, neededSymbols } from '../../src/elf/symbols.js'
import { readSignature } from '../../src/elf/signature.js'
import { moduleInfo } from '../../src/elf/module.js'
import { stripForForce } from '../../src/elf/strip.js'
import { moduleImage, DecompressError } from '../../src/compress/compress.js'
import { readCpio, CpioError } from '../../src/initramfs/cpio.js'
import { appendSignature, buildElf, modinfoSection } from '../fixtures/tools/elf-builder.js'
import { corpusFor } from './corpus.js'

export interface FuzzTarget {
  name: string
  /** what is parsed, for the report */
  what: string
  /** valid inputs to mutate */
  corpus: () => Uint8Array[]
  /** text formats get line mutations too */
  text?: boolean
  /** formats of offsets are mostly damaged in place (mutate.ts) */
  offsets?: boolean
  /** drive the parser; throws what the parser throws; may return a promise */
  run: (input: Uint8Array) => unknown
  /** the parser's own errors (the contract allows them); absent: it must never throw */
  own?: (err: unknown) => boolean
  /** relative weight of this target's share of a fuzz run's executions */
  weight?: number
}

/** The file name every target passes to its parser (the module database names its files
 * under DIR): errors must name it. */
export const DIR = '/fuzz'
export const FILE = `${DIR}/input`
const named = (file: string): boolean => file === FILE || file.startsWith(`${DIR}/`)

/** Text as the loader reads these files: latin1 (every byte one char); odd lengths as UTF-8,
 * so replacement characters and code points above 0xff get in too. */
function text(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString(b.length % 2 === 0 ? 'latin1' : 'utf8')
}

const indexError = (err: unknown): boolean => err instanceof IndexError && named(err.file) && Number.isInteger(err.line) && err.line >= 1
const moduleError = (err: unknown): boolean => err instanceof ModuleFormatError && err.path === FILE

/** What a loader asks an alias index: real modalias shapes, and names. */
const ALIAS_KEYS = [
  'pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00',
  'usb:v13FDp3940d0100dc00dsc00dp00ic08isc06ip50in00',
  'acpi:INTC1085:',
  'cpu:type:x86,ven0000fam0006mod0086:feature:,0000,0001',
  'of:NvirtioT(null)Cvirtio,mmio',
  'dmi:bvnKontron:rvnKontron:rnCOMe-cTH6:',
  'symbol:crc7_be',
  'virtio_net',
  'fs-ext4',
  'char-major-10-229',
  'a',
  '',
]

/** Fail when a parser returns more items than its input could describe. */
function bounded(what: string, count: number, input: Uint8Array, perItem = 1): void {
  if (count > input.length / perItem + 16) throw new BoundError(`${what}: ${count} items from ${input.length} bytes`)
}

/** A result out of proportion to its input: memory growth the contract forbids. */
export class BoundError extends Error {
  constructor(what: string) {
    super(`unbounded output: ${what}`)
    this.name = 'BoundError'
  }
}

function depTarget(): FuzzTarget {
  return {
    name: 'modules-dep',
    what: 'modules.dep (full parse, and the lazy view the tools use, which must agree with it)',
    corpus: () => corpusFor('modules-dep'),
    text: true,
    weight: 2,
    own: indexError,
    run: (b) => {
      const t = text(b)
      let full: ReturnType<typeof parseModulesDep> | null = null
      try {
        full = parseModulesDep(t, FILE)
        bounded('modules.dep entries', full.size, b)
        for (const e of full.values()) void e.deps.length
      } catch (err) {
        if (!indexError(err)) throw err
      }
      const lazy = lazyModulesDep(t, FILE)
      const names = full === null ? [] : [...full.keys()].slice(0, 16)
      for (const n of [...names, 'crc7', 'intel_uncore', 'a_b', 'x']) void lazy.get(n)?.deps
      // the lazy view (what the tools read) must say what the full parse says
      for (const n of names) {
        const [a, l] = [full!.get(n)!, lazy.get(n)]
        if (l === undefined || l.path !== a.path || l.deps.join(' ') !== a.deps.join(' ')) {
          throw new Error(`lazy modules.dep disagrees on ${JSON.stringify(n)}: ${JSON.stringify(l)} against ${JSON.stringify(a)}`)
        }
      }
      bounded('modules.dep lazy entries', lazy.size, b)
    },
  }
}

function aliasTarget(): FuzzTarget {
  return {
    name: 'modules-alias',
    what: 'modules.alias (entry parser, the lazy text index and the built index, with lookups)',
    corpus: () => corpusFor('modules-alias'),
    text: true,
    weight: 2,
    own: indexError,
    run: (b) => {
      const t = text(b)
      let entries: ReturnType<typeof parseModulesAlias> = []
      try {
        entries = parseModulesAlias(t, FILE)
      } catch (err) {
        if (!indexError(err)) throw err
      }
      const built = buildAliasIndex(entries)
      const lazy = aliasIndexFromText(t, FILE)
      const keys = [...ALIAS_KEYS, ...entries.slice(0, 4).map((e) => e.pattern.replace(/[*?[\]]/g, 'x'))]
      for (const k of keys) {
        built.lookup(k)
        lazy.lookup(k)
      }
      bounded('alias index', lazy.size + lazy.dump().length, b, 5)
    },
  }
}

function lineTextTarget(name: string, what: string, parse: (t: string) => unknown[], own?: (err: unknown) => boolean): FuzzTarget {
  return {
    name,
    what,
    corpus: () => corpusFor(name),
    text: true,
    own,
    run: (b) => bounded(what, parse(text(b)).length, b),
  }
}

function builtinModinfoTarget(): FuzzTarget {
  return {
    name: 'builtin-modinfo',
    what: 'modules.builtin.modinfo',
    corpus: () => corpusFor('builtin-modinfo'),
    text: true,
    own: indexError,
    run: (b) => {
      const info = parseBuiltinModinfo(text(b), FILE)
      bounded('built-in aliases', builtinAliases(info).length + info.runs.length, b, 2)
    },
  }
}

function binTarget(): FuzzTarget {
  return {
    name: 'index-bin',
    what: 'kmod .bin indexes (header, exact and wildcard search, iteration, the module database over them)',
    corpus: () => corpusFor('index-bin'),
    offsets: true,
    weight: 3,
    own: indexError,
    run: (b) => {
      const idx = new BinIndex(b, FILE)
      for (const k of ALIAS_KEYS) {
        idx.search(k)
        bounded('wildcard matches', idx.searchWild(k).length, b, 5)
      }
      let n = 0
      for (const _ of idx.entries()) bounded('index entries', ++n, b, 5)
      // the module database over it, as if it were every index: its own errors count as
      // passes here (an alias index is no modules.dep.bin), not as the reader's
      try {
        const db = buildModuleDbFromBin(DIR, { depBin: b, aliasBin: b, symbolsBin: b, builtinBin: b, builtinAliasBin: b })
        for (const k of ['crc7', 'virtio_net', 'ext4', 'a']) {
          void db.modules.get(k)?.deps
          db.builtin.has(k)
        }
        db.aliases.lookup(ALIAS_KEYS[0])
        db.symbols.lookup('symbol:crc7_be')
        let m = 0
        for (const _ of db.modules.values()) bounded('modules.dep.bin entries', ++m, b, 5)
      } catch (err) {
        if (!indexError(err)) throw err
      }
    },
  }
}

function elfTarget(): FuzzTarget {
  return {
    name: 'elf',
    what: 'module ELF images: section table, .modinfo, symbols, __versions, appended signature, --force stripping',
    corpus: () => corpusFor('elf'),
    offsets: true,
    weight: 3,
    own: moduleError,
    run: (b) => {
      readSignature(b)
      const elf = parseElf(b, FILE)
      findSection(elf, '.modinfo')
      const tryOwn = (f: () => unknown): void => {
        try {
          f()
        } catch (err) {
          if (!moduleError(err)) throw err
        }
      }
      tryOwn(() => bounded('modinfo entries', readModinfo(elf).length, b))
      tryOwn(() => bounded('exported symbols', exportedSymbols(elf).length, b))
      tryOwn(() => bounded('needed symbols', neededSymbols(elf).length, b))
      tryOwn(() => moduleInfo(b, FILE))
      stripForForce(b, FILE, { modversions: true, vermagic: true })
    },
  }
}

const SIGNED_BASE = buildElf({ sections: [{ name: '.modinfo', data: modinfoSection(['license=GPL', 'name=fuzz']) }], symbols: [] })

function pkcs7Target(): FuzzTarget {
  return {
    name: 'pkcs7',
    what: 'PKCS#7 (DER) module signatures, inside a signed module trailer',
    corpus: () => corpusFor('pkcs7'),
    weight: 2,
    run: (b) => {
      readSignature(appendSignature(SIGNED_BASE, { algo: 1, hash: 4, idType: 2, signature: b }))
      readSignature(b)
    },
  }
}

function compressTarget(): FuzzTarget {
  return {
    name: 'compress',
    what: 'compressed module streams (gzip, xz, zstd: what this Node.js decodes)',
    corpus: () => corpusFor('compress'),
    weight: 1,
    own: (err) => err instanceof DecompressError && err.path === FILE,
    run: async (b) => {
      const out = await moduleImage(b, FILE)
      // gzip expands at most ~1032:1, xz and zstd by more; a module image past this is a bomb
      if (out.length > 64 * 1024 * 1024 + 2000 * b.length) throw new BoundError(`decompressed ${out.length} bytes from ${b.length}`)
    },
  }
}

function cpioTarget(): FuzzTarget {
  return {
    name: 'cpio',
    what: 'newc cpio archives read back',
    corpus: () => corpusFor('cpio'),
    weight: 2,
    own: (err) => err instanceof CpioError && err.file === FILE && Number.isInteger(err.offset),
    run: (b) => bounded('cpio entries', readCpio(b, FILE).length, b, 110),
  }
}

function blkidTarget(): FuzzTarget {
  return {
    name: 'blkid',
    what: 'filesystem superblocks and partition tables (GPT on 512 and 4096-byte sectors, MBR)',
    corpus: () => corpusFor('blkid'),
    offsets: true,
    weight: 2,
    run: (b) => {
      probeFilesystem(b)
      parsePartitionTable(b, 512)
      parsePartitionTable(b, 4096)
    },
  }
}

function cmdlineTarget(): FuzzTarget {
  return {
    name: 'cmdline',
    what: "the kernel command line, as init reads it (parseCmdline) and as kmod does (parseKcmdline)",
    corpus: () => corpusFor('cmdline'),
    text: true,
    weight: 2,
    run: (b) => {
      const t = text(b)
      const c = parseCmdline(t)
      flag(c, 'modload.halt')
      bounded('command-line params', c.params.size + c.initArgs.length + c.blacklist.length, b)
      const k = parseKcmdline(t)
      bounded('kmod options', k.options.length + k.blacklist.length, b)
    },
  }
}

function modprobeConfTarget(): FuzzTarget {
  return {
    name: 'modprobe-conf',
    what: 'modprobe.d files and modules.softdep',
    corpus: () => corpusFor('modprobe-conf'),
    text: true,
    weight: 2,
    run: (b) => {
      const { config, warnings } = parseModprobeConf(text(b), FILE)
      const n = config.aliases.length + config.blacklist.length + config.options.length + config.install.length + config.remove.length
      bounded('modprobe.d entries', n + config.softdeps.length + warnings.length, b)
      if (warnings.some((w) => w.file !== FILE || !(w.line >= 1))) throw new Error('a warning without file and line')
    },
  }
}

function ueventTarget(): FuzzTarget {
  return {
    name: 'uevent',
    what: 'kernel uevent netlink datagrams',
    corpus: () => corpusFor('uevent'),
    text: true,
    run: (b) => {
      const ev = parseUevent(b)
      if (ev) bounded('uevent keys', ev.env.size, b)
    },
  }
}

function imageConfigTarget(): FuzzTarget {
  return {
    name: 'image-config',
    what: 'mkinitramfs.conf',
    corpus: () => corpusFor('image-config'),
    text: true,
    run: (b) => {
      const { errors } = parseImageConfig(text(b), FILE)
      if (errors.some((e) => e.file !== FILE || !(e.line >= 1))) throw new Error('an error without file and line')
    },
  }
}

function cmdlineFileTarget(): FuzzTarget {
  return {
    name: 'cmdline-file',
    what: "the image's /etc/modload/cmdline",
    corpus: () => corpusFor('cmdline-file'),
    text: true,
    run: (b) => {
      const t = text(b)
      bounded('cmdline words', imageCmdlineWords(t).length, b)
      withImageCmdline('root=/dev/vda quiet -- single', t)
    },
  }
}

export const TARGETS: readonly FuzzTarget[] = [
  depTarget(),
  aliasTarget(),
  lineTextTarget('modules-symbols', 'modules.symbols', (t) => parseModulesSymbols(t, FILE), indexError),
  lineTextTarget('modules-builtin', 'modules.builtin and modules.order', (t) => parseModuleList(t)),
  lineTextTarget('modules-devname', 'modules.devname', (t) => parseModulesDevname(t, FILE), indexError),
  builtinModinfoTarget(),
  lineTextTarget('proc-modules', '/proc/modules', (t) => parseProcModules(t)),
  binTarget(),
  cmdlineTarget(),
  modprobeConfTarget(),
  ueventTarget(),
  elfTarget(),
  pkcs7Target(),
  compressTarget(),
  cpioTarget(),
  blkidTarget(),
  imageConfigTarget(),
  cmdlineFileTarget(),
]

export function targetByName(name: string): FuzzTarget {
  const t = TARGETS.find((x) => x.name === name)
  if (!t) throw new Error(`no fuzz target ${name}: ${TARGETS.map((x) => x.name).join(', ')}`)
  return t
}
