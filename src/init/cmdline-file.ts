// The image's default kernel command line: /etc/modload/cmdline, written by mkinitramfs from
// the configuration's `cmdline` directive. Init and `modload coldplug` read the command line
// as this file's words followed by /proc/cmdline's, so for the same key the boot loader's word,
// coming later, wins (parseCmdline keeps the last value), and what the boot loader puts after
// "--" stays init's arguments.
//
// The file holds kernel command-line words, quoted as the kernel quotes them (opt="a b"), on
// one or more lines; lines starting with '#' are comments. A "--" in it, and whatever follows,
// is ignored: it would turn the whole real command line into init's arguments.
import { readFileSync } from 'node:fs'
import { splitCmdline } from '../format/cmdline.js'

import { IMAGE_CMDLINE } from '../paths.js'

export { IMAGE_CMDLINE }

/** One word as the kernel reads it back: a value with blanks in double quotes. */
function quoteWord(w: string): string {
  if (!/[ \t\n]/.test(w)) return w
  const eq = w.indexOf('=')
  return eq > 0 ? `${w.slice(0, eq + 1)}"${w.slice(eq + 1)}"` : `"${w}"`
}

/** The words of an image cmdline file, as command-line text (no "--", quotes balanced). */
export function imageCmdlineWords(fileText: string): string[] {
  const text = fileText
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#'))
    .join(' ')
  const words = splitCmdline(text)
  const dashes = words.indexOf('--')
  return dashes >= 0 ? words.slice(0, dashes) : words
}

/** The command line init reads: the image's words first, then the kernel's. Pure. */
export function withImageCmdline(procText: string, fileText: string | undefined): string {
  const words = fileText === undefined ? [] : imageCmdlineWords(fileText)
  if (words.length === 0) return procText
  return `${words.map(quoteWord).join(' ')} ${procText}`
}

/** The file mkinitramfs puts in the image for these words (from the configuration). */
export function formatImageCmdline(words: readonly string[]): string {
  return `# default kernel command line of this image (mkinitramfs.conf "cmdline"); the boot loader's words win\n${words.map(quoteWord).join(' ')}\n`
}

/** /proc/cmdline's text with the image's default words in front, when the image has them. */
export function readImageCmdline(procText: string, path: string = IMAGE_CMDLINE): string {
  let fileText: string | undefined
  try {
    fileText = readFileSync(path, 'utf8')
  } catch {
    fileText = undefined // no defaults: the usual case outside a modload image
  }
  return withImageCmdline(procText, fileText)
}
