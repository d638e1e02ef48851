import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { Readable } from 'node:stream'
import { gunzipSync } from 'node:zlib'
import { readCpio, writeCpio, type CpioEntry } from '../src/initramfs/cpio.js'
import { COMPRESSIONS, DEFAULT_LEVEL, appendPadding, compressorArgs, padLength, writeCompressed, writeSegments, type Compression } from '../src/initramfs/output.js'
import { boot } from '../qemu/boot.js'
import { ensureHostTools } from '../qemu/deps.js'
import { ensureKernel } from '../qemu/kernels.js'

const dir = mkdtempSync(`${tmpdir()}/output-`)
const have = (cmd: string): boolean => spawnSync(cmd, ['--version']).status === 0
const missing = ['lz4', 'xz', 'zstd', 'cpio'].filter((c) => !have(c))

/** Decompress one segment's bytes the way a user would, with the usual programs. */
function decompress(kind: Compression, bytes: Uint8Array): Buffer {
  if (kind === 'none') return Buffer.from(bytes)
  if (kind === 'gzip') return gunzipSync(bytes)
  const r = spawnSync(kind, ['-d', '-c', '-q'], { input: bytes, maxBuffer: 1 << 30 })
  if (r.status !== 0) throw new Error(`${kind} -d: ${r.stderr}`)
  return r.stdout
}

const file = (path: string, text: string): CpioEntry => ({ type: 'file', path, data: () => Buffer.from(text) })
// 300 KB that compresses, so each stream has several blocks and the padding falls anywhere
const big = Buffer.from(Array.from({ length: 30000 }, (_, i) => `line ${i * 7919 % 10007}\n`).join(''))
const segmentEntries = (n: number): CpioEntry[] => [
  { type: 'dir', path: `/seg${n}` },
  file(`/seg${n}/name`, `segment ${n}\n`),
  { type: 'file', path: `/seg${n}/big`, data: () => big.subarray(n) },
  { type: 'symlink', path: `/seg${n}/link`, target: 'name' },
]

t.test('the kinds', async (t) => {
  t.same([...COMPRESSIONS].sort(), ['gzip', 'lz4', 'none', 'xz', 'zstd'])
  for (const k of COMPRESSIONS) t.type(DEFAULT_LEVEL[k], 'number', k)
  // the kernel's XZ Embedded checks CRC32 at most and wants a small dictionary
  const xz = compressorArgs('xz', 6).args
  t.ok(xz.includes('--check=crc32'))
  t.ok(xz.some((a) => /^--lzma2=.*dict=1MiB/.test(a)))
  t.ok(compressorArgs('lz4', 1).args.includes('-l'), 'lz4 in the legacy format, the only one the kernel reads')
})

t.test('every kind, each segment a complete archive', { skip: missing.length > 0 && `missing ${missing.join(', ')}` }, async (t) => {
  // every kind twice, so each kind is followed by every other one somewhere
  const kinds: Compression[] = ['lz4', 'none', 'gzip', 'xz', 'zstd', 'lz4', 'lz4', 'xz', 'none', 'zstd', 'gzip', 'none']
  const out = `${dir}/segments.img`
  const placed = await writeSegments(kinds.map((compress, n) => ({ entries: segmentEntries(n), compress })), 1234, out)
  const image = readFileSync(out)
  t.same(placed.map((p) => p.compress), kinds)
  t.equal(placed[0].offset, 0)
  t.equal(placed.at(-1)!.offset + placed.at(-1)!.bytes, image.length, 'nothing after the last segment')
  for (const [n, p] of placed.entries()) {
    t.equal(p.offset % 4, 0, `segment ${n} (${p.compress}) starts at a multiple of 4`)
    if (n === 0) continue
    const prev = placed[n - 1]
    const gap = image.subarray(prev.offset + prev.bytes, p.offset)
    t.ok(gap.every((b) => b === 0), `only zeros before segment ${n}`)
    if (prev.compress === 'lz4') t.ok(gap.length >= 4, `the lz4 segment before ${n} ends with a zero chunk size`)
    t.ok(gap.length < (prev.compress === 'lz4' ? 8 : 4), 'no more padding than needed')
  }
  for (const [n, p] of placed.entries()) {
    const archive = decompress(p.compress, image.subarray(p.offset, p.offset + p.bytes))
    const back = readCpio(archive)
    t.same(back.map((e) => e.path), [`seg${n}`, `seg${n}/name`, `seg${n}/big`, `seg${n}/link`], `segment ${n} (${p.compress})`)
    t.equal(Buffer.from(back[1].data).toString(), `segment ${n}\n`)
    t.ok(Buffer.from(back[2].data).equals(big.subarray(n)), `segment ${n}: the big file intact`)
    t.ok(archive.subarray(archive.length - 124).toString('latin1').includes('TRAILER!!!'), `segment ${n} ends with its trailer`)
  }
})

t.test('GNU cpio reads the whole image once decompressed segment by segment', { skip: missing.length > 0 && `missing ${missing.join(', ')}` }, async (t) => {
  const kinds: Compression[] = ['none', 'xz', 'lz4', 'gzip']
  const out = `${dir}/cpio.img`
  const placed = await writeSegments(kinds.map((compress, n) => ({ entries: segmentEntries(n), compress })), 0, out)
  const image = readFileSync(out)
  const root = mkdtempSync(`${dir}/root-`)
  for (const p of placed) {
    const r = spawnSync('cpio', ['-i', '-d', '--quiet', '--no-absolute-filenames'], { cwd: root, input: decompress(p.compress, image.subarray(p.offset, p.offset + p.bytes)) })
    t.equal(r.status, 0, r.stderr?.toString())
  }
  for (let n = 0; n < kinds.length; n++) {
    t.equal(readFileSync(`${root}/seg${n}/link`, 'utf8'), `segment ${n}\n`, `segment ${n} through its symlink`)
    t.ok(readFileSync(`${root}/seg${n}/big`).equals(big.subarray(n)))
  }
})

t.test('one segment: the same bytes as writeCompressed, for every kind', { skip: missing.length > 0 && `missing ${missing.join(', ')}` }, async (t) => {
  for (const kind of COMPRESSIONS) {
    const a = `${dir}/one-${kind}.seg`
    const b = `${dir}/one-${kind}.cmp`
    await writeSegments([{ entries: segmentEntries(1), compress: kind }], 99, a)
    await writeCompressed(Readable.from(writeCpio(segmentEntries(1), 99)), kind, DEFAULT_LEVEL[kind], b)
    t.ok(readFileSync(a).equals(readFileSync(b)), kind)
  }
})

t.test('levels are honoured and the output is reproducible', { skip: !have('xz') && 'xz not installed' }, async (t) => {
  const entries = () => [{ type: 'file' as const, path: '/big', data: () => big }]
  const lo = `${dir}/xz0.img`
  const hi = `${dir}/xz9.img`
  await writeSegments([{ entries: entries(), compress: 'xz', level: 0 }], 0, lo)
  await writeSegments([{ entries: entries(), compress: 'xz', level: 9 }], 0, hi)
  t.ok(readFileSync(hi).length < readFileSync(lo).length, 'xz -9 smaller than xz -0')
  await writeSegments([{ entries: entries(), compress: 'xz', level: 9 }], 0, `${dir}/xz9b.img`)
  t.ok(readFileSync(hi).equals(readFileSync(`${dir}/xz9b.img`)))
  // what the kernel's decoder will be told: CRC32, a 1 MiB dictionary at most
  const list = spawnSync('xz', ['--robot', '--list', '-vv', hi]).stdout.toString()
  t.match(list, /\bCRC32\b/)
  const dict = list.split('\n').filter((l) => l.startsWith('block')).map((l) => /dict=(\d+)([KM]i)?B/.exec(l))
  t.ok(dict.length > 0 && dict.every((m) => m && Number(m[1]) * (m[2] === 'Mi' ? 1 << 20 : m[2] === 'Ki' ? 1024 : 1) <= 1 << 20), `dictionaries ${dict.map((m) => m?.[0])}`)
})

t.test('padding: to a multiple of 4, and at least 4 zeros before what is appended to an image', async (t) => {
  t.same([0, 1, 2, 3, 4, 5].map((n) => padLength(n)), [0, 3, 2, 1, 0, 3])
  t.same([0, 1, 2, 3, 4].map((n) => padLength(n, 4)), [4, 7, 6, 5, 4])
  // an lz4 image that happened to end 1 byte short of a 512 boundary lost the archive appended
  // after it (1 zero, read by the kernel as part of a chunk size)
  for (const n of [42476031, 42475259, 512, 509]) {
    const p = appendPadding(n)
    t.ok(p >= 4 && (n + p) % 4 === 0, `${n}: ${p} zeros`)
  }
})

t.test('errors name the cause', async (t) => {
  await t.rejects(writeSegments([], 0, `${dir}/empty.img`), /at least one segment/)
  const saved = process.env.PATH
  process.env.PATH = dir // no compressor programs here
  try {
    await t.rejects(writeSegments([{ entries: segmentEntries(0), compress: 'lz4' }], 0, `${dir}/nolz4.img`), /needs the lz4 program/)
  } finally {
    process.env.PATH = saved
  }
  process.env.PATH = dir
  try {
    writeFileSync(`${dir}/xz`, '#!/bin/sh\n/bin/cat >/dev/null; exit 3\n', { mode: 0o755 })
    await t.rejects(writeSegments([{ entries: segmentEntries(0), compress: 'xz' }], 0, `${dir}/badxz.img`), /xz .* exited with 3/)
  } finally {
    process.env.PATH = saved
  }
})

// The rules are the kernel's: boot one. Every kind follows and precedes the others somewhere
// (lz4 before a compressed segment, an odd-length compressed stream before an uncompressed one,
// uncompressed before compressed), and busybox's script, in the last segment, lists which
// segments' files it finds. A segment the kernel could not delimit loses every later one.
t.test('the kernel unpacks every segment (6.1, QEMU)', { skip: missing.length > 0 && `missing ${missing.join(', ')}`, timeout: 600_000 }, async (t) => {
  await ensureHostTools()
  const kernel = await ensureKernel('6.1')
  const kinds: Compression[] = ['lz4', 'gzip', 'none', 'xz', 'lz4', 'none', 'zstd', 'lz4', 'lz4', 'xz', 'gzip', 'zstd', 'none']
  const script = `#!/bin/busybox sh
found=
for n in ${kinds.map((_, n) => n).join(' ')}; do
  [ "$(/bin/busybox cat /seg$n/name)" = "segment $n" ] && /bin/busybox cmp -s /seg$n/big /seg0/big.ref$n && found="$found $n"
done
echo "segments-found:$found"
/bin/busybox poweroff -f
`
  const segments = kinds.map((compress, n) => ({ entries: segmentEntries(n), compress }))
  const last: CpioEntry[] = [
    { type: 'dir', path: '/bin' },
    { type: 'file', path: '/bin/busybox', mode: 0o755, data: () => readFileSync('/bin/busybox') },
    { type: 'dir', path: '/dev' },
    { type: 'chardev', path: '/dev/console', major: 5, minor: 1 },
    { type: 'file', path: '/check', mode: 0o755, data: () => Buffer.from(script) },
    // what each segment's big file must be, in the first segment's directory
    ...kinds.map((_, n): CpioEntry => ({ type: 'file', path: `/seg0/big.ref${n}`, data: () => big.subarray(n) })),
  ]
  const out = `${dir}/boot.img`
  await writeSegments([...segments, { entries: last, compress: 'lz4' }], 0, out)
  const r = await boot({ kernel, initrd: out, machine: 'virtio', append: 'rdinit=/check', timeoutMs: 300_000 })
  const line = r.lines.find((l) => l.includes('segments-found:'))
  t.ok(line, `the check ran: ${r.lines.slice(-5).join(' | ')}`)
  t.equal(line?.slice(line.indexOf('segments-found:') + 'segments-found:'.length).trim(), kinds.map((_, n) => n).join(' '), 'every segment unpacked')
  t.notMatch(r.console, /Initramfs unpacking failed/)
})
