// Module-name normalisation, done once at the edges, with kmod's exact rules: the kernel and
// kmod treat '-' and '_' in module names as the same character and store '_'.

/** "snd-hda-intel" -> "snd_hda_intel" */
export function normalizeName(name: string): string {
  return name.includes('-') ? name.replaceAll('-', '_') : name
}

/**
 * "kernel/drivers/net/virtio_net.ko.xz" -> "virtio_net": the base name up to its first '.',
 * dashes as underscores (kmod's path_to_modname).
 */
export function modNameFromPath(path: string): string {
  const slash = path.lastIndexOf('/')
  let base = slash >= 0 ? path.slice(slash + 1) : path
  const dot = base.indexOf('.')
  if (dot >= 0) base = base.slice(0, dot)
  return normalizeName(base)
}

/**
 * Normalise an alias as kmod does (alias_normalize): '-' becomes '_' except between '[' and
 * ']', where a dash is a range. Returns null for an unbalanced bracket (kmod rejects those).
 */
export function normalizeAlias(alias: string): string | null {
  if (alias.indexOf('-') < 0 && alias.indexOf('[') < 0 && alias.indexOf(']') < 0) return alias
  let out = ''
  for (let i = 0; i < alias.length; i++) {
    const c = alias[i]
    if (c === '[') {
      const close = alias.indexOf(']', i + 1)
      if (close < 0) return null
      out += alias.slice(i, close + 1)
      i = close
    } else if (c === ']') {
      return null
    } else {
      out += c === '-' ? '_' : c
    }
  }
  return out
}

/**
 * kmod's underscores(), applied to names read from modprobe.d: like normalizeAlias, but an
 * unbalanced bracket is kept as it is (kmod only logs it).
 */
export function underscores(s: string): string {
  if (s.indexOf('-') < 0) return s
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s[i]
    if (c === '[') {
      const close = s.indexOf(']', i)
      const end = close < 0 ? s.length : close + 1
      out += s.slice(i, end)
      i = end - 1
    } else {
      out += c === '-' ? '_' : c
    }
  }
  return out
}
