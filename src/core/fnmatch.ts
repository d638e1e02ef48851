// fnmatch(3) as glibc runs it for kmod: flags 0, "C" locale (modprobe never calls setlocale).
// '*' matches any run of characters ('/' and a leading '.' included), '?' any one character,
// '[...]' a set with ranges (compared as bytes), classes such as [:digit:], and [=c=] / [.c.]
// for a single character; '[!...]' or '[^...]' its complement; ']' first in a set is literal;
// '\' quotes the next character (inside a set too), and a trailing '\' never matches. A '['
// without its ']' is an ordinary character.
//
// Every element but '*' consumes exactly one character, so one backtrack point (the last '*')
// decides a match as glibc's recursion does.

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

const CLASSES: Record<string, (c: number) => boolean> = {
  alnum: (c) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122),
  alpha: (c) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122),
  blank: (c) => c === 32 || c === 9,
  cntrl: (c) => c < 32 || c === 127,
  digit: (c) => c >= 48 && c <= 57,
  graph: (c) => c > 32 && c < 127,
  lower: (c) => c >= 97 && c <= 122,
  print: (c) => c >= 32 && c < 127,
  punct: (c) => c > 32 && c < 127 && !((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)),
  space: (c) => c === 32 || (c >= 9 && c <= 13),
  upper: (c) => c >= 65 && c <= 90,
  xdigit: (c) => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102),
}

/**
 * Match one bracket expression at pattern[p] === '[' against character code ch. Returns the
 * index after the closing ']' when it matches, -1 when it does not, -2 when the bracket is
 * not closed (the '[' is then an ordinary character).
 */
function matchBracket(pattern: string, p: number, ch: number): number {
  const n = pattern.length
  let i = p + 1
  let negate = false
  const first = pattern.charCodeAt(i)
  if (first === 33 /* ! */ || first === 94 /* ^ */) {
    negate = true
    i++
  }
  let matched = false
  let start = true
  while (i < n) {
    let c = pattern.charCodeAt(i)
    if (c === 93 /* ] */ && !start) return matched !== negate ? i + 1 : -1
    start = false
    let lo: number
    if (c === 91 /* [ */ && i + 1 < n) {
      const kind = pattern.charCodeAt(i + 1)
      if (kind === 58 /* : */ || kind === 61 /* = */ || kind === 46 /* . */) {
        const close = pattern.indexOf(String.fromCharCode(kind) + ']', i + 2)
        if (close < 0) return -2
        const body = pattern.slice(i + 2, close)
        i = close + 2
        if (kind === 58) {
          const test = CLASSES[body]
          if (test === undefined) return -2 // glibc: an unknown class makes the pattern invalid
          if (test(ch)) matched = true
          continue
        }
        // [=c=] and [.c.]: in the C locale only single characters exist
        if (body.length !== 1) return -2
        lo = body.charCodeAt(0)
      } else {
        lo = c
        i++
      }
    } else {
      if (c === 92 /* \ */ && i + 1 < n) {
        i++
        c = pattern.charCodeAt(i)
      }
      lo = c
      i++
    }
    let hi = lo
    if (pattern.charCodeAt(i) === 45 /* - */ && i + 1 < n && pattern.charCodeAt(i + 1) !== 93) {
      i++
      hi = pattern.charCodeAt(i)
      if (hi === 92 && i + 1 < n) {
        i++
        hi = pattern.charCodeAt(i)
      }
      i++
    }
    if (ch >= lo && ch <= hi) matched = true
  }
  return -2
}

/** fnmatch(pattern.slice(p0), str.slice(s0), 0) === 0, without slicing. */
export function fnmatchAt(pattern: string, p0: number, str: string, s0: number): boolean {
  let p = p0
  let s = s0
  const plen = pattern.length
  const slen = str.length
  let starP = -1
  let starS = 0
  while (s < slen) {
    if (p < plen) {
      const pc = pattern.charCodeAt(p)
      if (pc === 42 /* * */) {
        while (p < plen && pattern.charCodeAt(p) === 42) p++
        if (p === plen) return true
        starP = p
        starS = s
        continue
      }
      const sc = str.charCodeAt(s)
      if (pc === 63 /* ? */) {
        p++
        s++
        continue
      }
      if (pc === 91 /* [ */) {
        const next = matchBracket(pattern, p, sc)
        if (next >= 0) {
          p = next
          s++
          continue
        }
        if (next === -2 && sc === 91) {
          p++
          s++
          continue
        }
      } else if (pc === 92 /* \ */) {
        if (p + 1 < plen && pattern.charCodeAt(p + 1) === sc) {
          p += 2
          s++
          continue
        }
      } else if (pc === sc) {
        p++
        s++
        continue
      }
    }
    if (starP < 0) return false
    p = starP
    s = ++starS
  }
  while (p < plen && pattern.charCodeAt(p) === 42) p++
  return p === plen
}

export function fnmatch(pattern: string, str: string): boolean {
  return fnmatchAt(pattern, 0, str, 0)
}
