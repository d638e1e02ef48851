// Our side of the benchmark, run in a fresh process (so the load is cold and the peak RSS is
// ours): open the database of MODDIR, resolve the corpus ROUNDS times with kmod's lookup,
// print one JSON line like kmod-peer's.
import { readFileSync } from 'node:fs'
import { openModuleDir } from '../src/core/moddb-fs.js'
import { lookup } from '../src/core/lookup.js'

const [dir, corpusFile, roundsArg] = process.argv.slice(2)
const corpus = readFileSync(corpusFile, 'latin1').split('\n').filter((l) => l.length > 0)
const rounds = Number(roundsArg ?? 1)
const t0 = performance.now()
const db = openModuleDir(dir)
const t1 = performance.now()
let found = 0
let firstRoundMs = 0
for (let r = 0; r < rounds; r++) {
  const s = performance.now()
  for (const a of corpus) found += lookup(db, null, a)?.length ?? 0
  if (r === 0) firstRoundMs = performance.now() - s
}
const t2 = performance.now()
process.stdout.write(
  JSON.stringify({
    loadMs: t1 - t0,
    lookups: corpus.length * rounds,
    lookupMs: t2 - t1,
    firstRoundMs,
    found,
    maxRssKb: process.resourceUsage().maxRSS,
  }) + '\n',
)
