// Reading a module file from disk: the only file access of src/elf. Returns the ELF image,
// decompressed in user space when the file is compressed (told by its magic, as kmod does).
import { fsPromises } from '../sys/lazy.js'
import { moduleImage } from '../compress/compress.js'

export async function readModuleImage(path: string): Promise<Uint8Array> {
  return moduleImage(await fsPromises().readFile(path), path)
}
