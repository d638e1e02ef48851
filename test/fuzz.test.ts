// Fuzzing in the unit tests: every regression input kept under test/fuzz/regressions/ passes
// the contract, every corpus input too, and a short fast-check run per parser from a fixed
// seed (so a failure here is repeatable: rerun with the seed it prints). The long run with a
// random seed is `npm run fuzz` (test/fuzz/run.ts); test/fuzz/harness.ts states the contract.
import t from 'tap'
import { TARGETS } from './fuzz/targets.js'
import { checkInput, fuzzTarget, regressions } from './fuzz/harness.js'
import { BinIndex } from '../src/format/index-bin.js'
import { createBinIndex } from '../src/depmod/index-bin.js'

const SEED = 20261129
/** Executions per target at weight 1: the whole file takes about 30 s on this machine. */
const RUNS = 10000

t.test('an empty .bin index, as depmod writes it, reads back as empty', async (t) => {
  // found by the fuzz corpus: the root of an empty trie occupies no bytes at the file's end
  const idx = new BinIndex(createBinIndex().write(), 'modules.builtin.alias.bin')
  t.equal(idx.search('a'), null)
  t.same(idx.searchWild('pci:v00001AF4d00001000'), [])
  t.same([...idx.entries()], [])
})

for (const target of TARGETS) {
  t.test(target.name, async (t) => {
    for (const r of regressions(target.name)) {
      await t.resolves(checkInput(target, r.data, { slowMs: 10_000 }), `regression ${r.name}`)
    }
    const corpus = target.corpus()
    for (const [i, input] of corpus.entries()) await checkInput(target, input, { slowMs: 10_000 }).catch((err) => t.fail(`corpus input ${i}: ${err}`))
    const res = await fuzzTarget(target, { runs: RUNS * (target.weight ?? 1), seed: SEED, slowMs: 10_000 })
    t.notOk(res.failure, res.failure ? `seed ${res.failure.seed}: ${res.failure.error}\ninput (base64): ${Buffer.from(res.failure.input).toString('base64').slice(0, 2000)}` : `${res.executions} executions`)
  })
}
