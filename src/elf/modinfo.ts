// A module's .modinfo section: NUL-separated "key=value" strings written by MODULE_INFO()
// (alias=, depends=, license=, parm=NAME:TEXT, parmtype=NAME:TYPE, softdep=, vermagic=, ...),
// in the order the linker laid them out. A string without '=' is a key with an empty value,
// as kmod_module_get_info reads it.
import { findSection, sectionStrings, type Elf } from './elf.js'
import { ModuleFormatError } from './errors.js'

export interface InfoEntry {
  key: string
  value: string
}

export function splitInfo(s: string): InfoEntry {
  const eq = s.indexOf('=')
  return eq < 0 ? { key: s, value: '' } : { key: s.slice(0, eq), value: s.slice(eq + 1) }
}

/** The .modinfo entries in file order. Throws ENOENT when the module has no .modinfo section. */
export function readModinfo(elf: Elf): InfoEntry[] {
  const sec = findSection(elf, '.modinfo')
  if (!sec) throw new ModuleFormatError(elf.file, 'ENOENT', 'no .modinfo section')
  return sectionStrings(elf, sec).map(splitInfo)
}

/** The values of one key, in order. */
export function infoValues(entries: readonly InfoEntry[], key: string): string[] {
  const out: string[] = []
  for (const e of entries) if (e.key === key) out.push(e.value)
  return out
}
