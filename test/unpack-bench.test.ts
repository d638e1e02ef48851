// The pure parts of bench/unpack.ts: reading the console, and the start-up arithmetic.
import t from 'tap'
import { firstLineSeconds, formatStartupTable, measuresStartup, probeSeconds, summarise, variants } from '../bench/unpack.js'

t.test('the probe line and modload\'s first line are read from the console', async (t) => {
  const lines = ['[    1.0] x', 'unpack-probe uptime=3.25 0.00', 'modload: start uptime=4.50 idle=0.00']
  t.equal(probeSeconds(lines), 3.25)
  t.equal(firstLineSeconds(lines), 4.5)
  t.equal(firstLineSeconds(['modload: start uptime=?']), undefined, 'no number, no value')
})

t.test('start-up is the first line minus the same image\'s probe median', async (t) => {
  const exe = { label: 'dist/modload', file: '/x', modload: true }
  const other = { label: 'node', file: '/n' }
  const vs = variants([exe, other], ['none', 'lz4'])
  t.same(vs.filter(measuresStartup).map((v) => v.name), ['dist/modload / lz4'], 'only modload runtimes, lz4 only')
  const name = 'dist/modload / lz4'
  const samples = [
    { variant: 'floor', seconds: 2 },
    { variant: name, seconds: 3 },
    { variant: name, seconds: 3.5 },
    { variant: name, seconds: 3.2 },
    { variant: name, seconds: 4.2, boot: 'init' as const },
    { variant: name, seconds: 4.0, boot: 'init' as const },
    { variant: name, seconds: undefined, boot: 'init' as const },
  ]
  const rows = summarise(vs, samples, new Map())
  const row = rows.find((r) => r.variant.name === name)!
  t.equal(row.median, 3.2, 'the init boots stay out of the probe median')
  t.same(row.firstLines, [4.2, 4.0])
  t.equal(row.firstLine, 4.1)
  t.equal(row.startup?.toFixed(2), '0.90')
  t.equal(row.cost?.toFixed(2), '1.20', 'unpack cost against the floor as before')
  const table = formatStartupTable(rows)
  t.match(table, /\| dist\/modload \| - \| 3\.20 \| 4\.10 \| 4\.20, 4\.00 \| \*\*0\.90\*\* \|/)
  t.equal(table.split('\n').length, 3, 'one row: the only runtime booted as /init')
})
