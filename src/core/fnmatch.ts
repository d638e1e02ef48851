// fnmatch(3) with flags 0, as kmod uses it for modules.alias patterns: '*' matches any run of
// characters ('/' included), '?' any one character, '[...]' a set with ranges, '[!...]' or
// '[^...]' its complement, '\' quotes the next character. A '[' without its ']' is literal.

/** True when the string contains a glob metacharacter, i.e. needs fnmatch rather than ===. */
export function isGlob(pattern: string): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charCodeAt(i)
    if (c === 42 /* * */ || c === 63 /* ? */ || c === 91 /* [ */ || c === 92 /* \ */) return true
  }
  return false
}

/** Length of the literal prefix of a pattern (the part before its first metacharacter). */
export function literalPrefixLength(pattern: string): number {
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charCodeAt(i)
    if (c === 42 || c === 63 || c === 91 || c === 92) return i
  }
  return pattern.length
}

/**
 * Match one bracket expression starting at p (pattern[p] === '['). Returns the index after
 * the closing ']' when it matches ch, -1 when it does not match, -2 when the bracket is not
 * closed (then '[' is an ordinary character).
 */
function matchBracket(pattern: string, p: number, ch: string): number {
  let i = p + 1
  let negate = false
  if (pattern[i] === '!' || pattern[i] === '^') {
    negate = true
    i++
  }
  let matched = false
  let first = true
  while (i < pattern.length) {
    let c = pattern[i]
    if (c === ']' && !first) return matched !== negate ? i + 1 : -1
    first = false
    if (c === '\\' && i + 1 < pattern.length) c = pattern[++i]
    let hi = c
    if (pattern[i + 1] === '-' && i + 2 < pattern.length && pattern[i + 2] !== ']') {
      hi = pattern[i + 2]
      if (hi === '\\' && i + 3 < pattern.length) {
        hi = pattern[i + 3]
        i++
      }
      i += 2
    }
    if (ch >= c && ch <= hi) matched = true
    i++
  }
  return -2
}

export function fnmatch(pattern: string, str: string): boolean {
  let p = 0
  let s = 0
  // Position to resume from after the most recent '*': a single backtrack point suffices,
  // because every other pattern element consumes exactly one character.
  let starP = -1
  let starS = 0
  while (s < str.length) {
    const pc = pattern[p]
    if (pc === '*') {
      while (pattern[p] === '*') p++
      if (p === pattern.length) return true
      starP = p
      starS = s
      continue
    }
    if (p < pattern.length) {
      if (pc === '?') {
        p++
        s++
        continue
      }
      if (pc === '[') {
        const next = matchBracket(pattern, p, str[s])
        if (next >= 0) {
          p = next
          s++
          continue
        }
        if (next === -2 && str[s] === '[') {
          p++
          s++
          continue
        }
      } else if (pc === '\\' && p + 1 < pattern.length) {
        if (pattern[p + 1] === str[s]) {
          p += 2
          s++
          continue
        }
      } else if (pc === str[s]) {
        p++
        s++
        continue
      }
    }
    if (starP < 0) return false
    p = starP
    s = ++starS
  }
  while (pattern[p] === '*') p++
  return p === pattern.length
}
