// Module-name normalisation, done once at the edges: the kernel and kmod treat '-' and '_'
// in module names as the same character, and store '_'.

/** "snd-hda-intel" -> "snd_hda_intel" */
export function normalizeName(name: string): string {
  return name.includes('-') ? name.replaceAll('-', '_') : name
}

/** "kernel/drivers/net/virtio_net.ko.xz" -> "virtio_net" */
export function modNameFromPath(path: string): string {
  const slash = path.lastIndexOf('/')
  let base = slash >= 0 ? path.slice(slash + 1) : path
  const ko = base.indexOf('.ko')
  if (ko > 0) base = base.slice(0, ko)
  return normalizeName(base)
}

/**
 * Normalise an alias as kmod does: '-' becomes '_' except between '[' and ']', where a dash is
 * a range. Returns null for an unbalanced bracket (kmod rejects those too).
 */
export function normalizeAlias(alias: string): string | null {
  if (!alias.includes('-')) return alias
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
