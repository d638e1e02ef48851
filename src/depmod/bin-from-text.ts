// depmod's binary indexes rebuilt from its text indexes, for `modload mkinitramfs`: the image
// holds depmod's texts trimmed to the modules it carries (initramfs/trim.ts), and the loader
// inside reads the binary ones (core/moddb-bin.ts), which must say the same. The keys, values
// and priorities are depmod's: a module's priority is its place in modules.dep (depmod's
// module order), aliases and symbols take their module's, built-in entries 0. Pure.
import { createBinIndex } from './index-bin.js'
import { builtinAliases } from './builtin-modinfo.js'
import { kmodAliasNormalize } from './depmod.js'
import { pathToModname } from './select.js'
import { parseAliasText } from '../core/alias-index.js'

export interface IndexTextsForBin {
  dep: string
  alias?: string
  symbols?: string
  builtin?: string
  builtinModinfo?: string
  /** a text modules.builtin.alias (modload's depmod writes one), used without builtinModinfo */
  builtinAlias?: string
}

export interface BinFile {
  name: string
  data: Uint8Array
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.length > 0 && l[0] !== '#')
}

/** The .bin companions of the given texts (only of those given). `file` names the texts'
 * directory in errors. */
export function binIndexesFromTexts(t: IndexTextsForBin, dir: string): BinFile[] {
  const order = new Map<string, number>()
  const dep = createBinIndex()
  for (const line of lines(t.dep)) {
    const colon = line.indexOf(':')
    if (colon <= 0) throw new Error(`${dir}/modules.dep: "${line.slice(0, 80)}" is not "PATH: DEPENDENCIES"`)
    const name = pathToModname(line.slice(0, colon))
    if (order.has(name)) continue
    order.set(name, order.size)
    const rest = line.slice(colon + 1).trim()
    dep.insert(name, `${line.slice(0, colon)}:${rest ? ` ${rest.split(/[ \t]+/).join(' ')}` : ''}`, order.get(name)!)
  }
  const out: BinFile[] = [{ name: 'modules.dep.bin', data: dep.write() }]
  const prioOf = (module: string, at: number): number => order.get(module) ?? order.size + at

  const aliasFile = (name: string, text: string | undefined): void => {
    if (text === undefined) return
    const idx = createBinIndex()
    const cols = parseAliasText(text, `${dir}/${name.replace(/\.bin$/, '')}`)
    cols.patterns.forEach((p, k) => {
      const norm = kmodAliasNormalize(p)
      if (norm !== null) idx.insert(norm, cols.modules[k], prioOf(cols.modules[k], k))
    })
    out.push({ name, data: idx.write() })
  }
  aliasFile('modules.alias.bin', t.alias)
  aliasFile('modules.symbols.bin', t.symbols)

  if (t.builtin !== undefined) {
    const idx = createBinIndex()
    for (const line of lines(t.builtin)) idx.insert(pathToModname(line.trim()), '', 0)
    out.push({ name: 'modules.builtin.bin', data: idx.write() })
  }
  if (t.builtinModinfo !== undefined || t.builtinAlias !== undefined) {
    const idx = createBinIndex()
    const entries =
      t.builtinModinfo !== undefined
        ? builtinAliases(t.builtinModinfo)
        : (() => {
            const cols = parseAliasText(t.builtinAlias!, `${dir}/modules.builtin.alias`)
            return cols.patterns.map((alias, k) => ({ alias, module: cols.modules[k] }))
          })()
    for (const b of entries) {
      const norm = kmodAliasNormalize(b.alias)
      if (norm !== null) idx.insert(norm, b.module, 0)
    }
    out.push({ name: 'modules.builtin.alias.bin', data: idx.write() })
  }
  return out
}
