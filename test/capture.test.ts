// The capture over a serial console (src/image/capture.ts): entries to console lines and back,
// through the noise a console carries, and refusal of a damaged or partial capture.
import t from 'tap'
import { fileURLToPath } from 'node:url'
import { captureLines, emitCapture, parseCaptureLines } from '../src/image/capture.js'
import { captureEntries, readHostFacts, writeCapture, type CaptureEntry } from '../src/image/host.js'

const PC = fileURLToPath(new URL('./fixtures/sysfs/pc', import.meta.url))

const odd: CaptureEntry[] = [
  { kind: 'file', path: 'mountinfo', text: '22 1 253:0 / / rw - ext4 /dev/mapper/cryptroot rw\n26 22 8:33 / /boot\\040efi rw - vfat /dev/sdc1 rw\n' },
  { kind: 'file', path: 'devices/a b%/modalias', text: 'x:\t100%\u00e9\u007f\n' },
  { kind: 'link', path: 'devices/a b%/driver', target: '../../bus/pci/drivers/my driver' },
  { kind: 'dir', path: 'module/x/drivers' },
  { kind: 'file', path: 'module/y/initstate', text: '' },
]

t.test('entries survive the trip as printable one-line records', async (t) => {
  const lines = captureLines(odd)
  t.equal(lines.length, odd.length + 2)
  t.equal(lines[0], 'capture begin 1')
  t.equal(lines.at(-1), `capture end ${odd.length}`)
  for (const l of lines) t.match(l, /^[\x21-\x7e ]+$/, `printable, one line: ${l.slice(0, 50)}`)
  t.match(lines[2], /^capture [0-9a-f]{8} f devices\/a%20b%25\/modalias x:%09100%25%E9%7F%0A$/)
  // as the console shows them: our prefix, kernel text before it, \r stripped by the harness
  const console = ['[    1.0] random kernel line', ...lines.map((l, i) => (i === 3 ? `[   12.5] ata1: link up modload: ${l}` : `modload: ${l}`)), 'modload: halt uptime=3.0']
  t.same(parseCaptureLines(console), odd)
})

t.test('the last complete capture wins; damage and loss are errors', async (t) => {
  const lines = captureLines(odd).map((l) => `modload: ${l}`)
  const second = captureLines(odd.slice(0, 2)).map((l) => `modload: ${l}`)
  t.same(parseCaptureLines([...lines, ...second]), odd.slice(0, 2))
  const damaged = [...lines]
  damaged[3] = damaged[3].replace('driver', 'drive[   3.1] usb 1-1: new device r')
  t.throws(() => parseCaptureLines(damaged), /1 damaged line/)
  t.throws(() => parseCaptureLines(lines.filter((_, i) => i !== 2)), /4 entries received, 5 sent/)
  t.throws(() => parseCaptureLines(lines.slice(0, -1)), /no end line/)
  t.throws(() => parseCaptureLines(['modload: start uptime=1']), /no capture/)
  t.throws(() => parseCaptureLines(['modload: capture begin 2']), /version 1/)
})

t.test('init\'s emitCapture prints what rebuilds the same facts', async (t) => {
  const printed: string[] = []
  emitCapture((l) => printed.push(`modload: ${l}`), { sysfs: PC })
  t.same(parseCaptureLines(printed), captureEntries({ sysfs: PC }))
  const dir = t.testdir()
  writeCapture(dir, parseCaptureLines(printed))
  t.same({ ...readHostFacts({ sysfs: dir }), sysfs: PC }, readHostFacts({ sysfs: PC }))
})
