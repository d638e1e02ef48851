// What modinfo shows of a module file: its .modinfo entries followed, when it is signed, by the
// signature entries kmod_module_get_info appends (sig_id, signer, sig_key, sig_hashalgo,
// signature, the binary ones as kmod's colon-separated hex). Pure: image bytes in.
import { parseElf } from './elf.js'
import { readModinfo, type InfoEntry } from './modinfo.js'
import { hexColumns, readSignature } from './signature.js'

export function moduleInfo(image: Uint8Array, file: string): InfoEntry[] {
  const entries = readModinfo(parseElf(image, file))
  const sig = readSignature(image)
  if (sig) {
    entries.push(
      { key: 'sig_id', value: sig.idType },
      { key: 'signer', value: sig.signer },
      { key: 'sig_key', value: hexColumns(sig.keyId) },
      { key: 'sig_hashalgo', value: sig.hashAlgo },
      { key: 'signature', value: hexColumns(sig.signature) },
    )
  }
  return entries
}
