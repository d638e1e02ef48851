// Parser for /proc/modules.
//
// Format, one module a line: "NAME SIZE REFCOUNT USERS STATE ADDRESS [TAINTS]", where USERS is
// "-" or a comma-terminated list "a,b,", STATE is Live, Loading or Unloading.
export interface ProcModule {
  name: string
  size: number
  refcount: number
  users: string[]
  state: string
}

export function parseProcModules(text: string): ProcModule[] {
  const out: ProcModule[] = []
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/)
    if (f.length < 5 || f[0] === '') continue
    const users = f[3] === '-' ? [] : f[3].split(',').filter((u) => u.length > 0)
    out.push({ name: f[0], size: Number(f[1]), refcount: f[2] === '-' ? 0 : Number(f[2]), users, state: f[4] })
  }
  return out
}
