// A read-only Map whose lookups are answered one at a time (a search of an index) and whose
// iteration builds the whole map once, on first use: the shape of the module databases'
// indexes, which a loader mostly asks about a few names and a tool sometimes lists whole.
export function lazyMap<K, V>(get: (key: K) => V | undefined, all: () => Map<K, V>): ReadonlyMap<K, V> {
  return {
    get,
    has: (key) => get(key) !== undefined,
    get size() {
      return all().size
    },
    forEach: (cb, thisArg) => all().forEach(cb, thisArg),
    keys: () => all().keys(),
    values: () => all().values(),
    entries: () => all().entries(),
    [Symbol.iterator]: () => all()[Symbol.iterator](),
  }
}
