// Small helpers shared by the kmod-compatible tools (modinfo, depmod, insmod, rmmod, lsmod):
// kmod's way of naming the modules directory and of making paths absolute, and the one
// place where the latin1 strings read from module files become printable text.

/**
 * kmod's "%s/lib/modules/%s" with the root as given (already absolute) or empty: kmod neither
 * strips nor adds slashes, and what it prints (modinfo's filename, depmod's messages) shows it.
 */
export function kmodDirname(root: string | undefined, kver: string): string {
  return `${root ?? ''}/lib/modules/${kver}`
}

/** kmod's path_make_absolute_cwd: "CWD/PATH" for a relative path, nothing normalised. */
export function absoluteFromCwd(path: string, cwd: string): string {
  return path.startsWith('/') ? path : `${cwd}/${path}`
}

/**
 * Strings read from module files hold one char per byte (latin1); the console wants the bytes
 * back, and a ToolIo writes UTF-8, so decode the bytes as UTF-8 (what they are in practice).
 */
export function latin1ToText(s: string): string {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) return Buffer.from(s, 'latin1').toString('utf8')
  }
  return s
}
