// `node build/run.mjs bench/boot.ts [--write]` (or `npm run bench:boot`): the boot benchmark of
// bench/boot-bench.ts on its own; `npm run bench` runs it too, after the resolver benchmark.
import { optionsFromEnv, runBootBench } from './boot-bench.js'

await runBootBench(optionsFromEnv(process.env, process.argv.slice(2), (l) => process.stdout.write(`${l}\n`))).catch((err) => {
  process.stderr.write(`bench boot: ${(err as Error).stack ?? err}\n`)
  process.exitCode = 1
})
