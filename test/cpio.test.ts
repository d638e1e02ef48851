import t from 'tap'
import { parentDirs, writeCpio, readCpio, S_IFDIR, S_IFREG, S_IFLNK, S_IFCHR } from '../src/initramfs/cpio.js'
import { sourceDateEpoch } from '../src/initramfs/output.js'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readlinkSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'

const entries = [
  { type: 'dir' as const, path: '/bin' },
  { type: 'file' as const, path: '/bin/hello', mode: 0o755, data: () => Buffer.from('hello\n') },
  { type: 'file' as const, path: '/empty', data: () => new Uint8Array(0) },
  { type: 'symlink' as const, path: '/sbin', target: 'bin' },
  { type: 'chardev' as const, path: '/console', major: 5, minor: 1 },
]
const bytes = Buffer.concat([...writeCpio(entries, 1234)])

t.test('round trip', async (t) => {
  t.equal(bytes.length % 4, 0)
  const back = readCpio(bytes)
  t.same(back.map((e) => e.path), ['bin', 'bin/hello', 'empty', 'sbin', 'console'])
  t.equal(back[0].mode, S_IFDIR | 0o755)
  t.equal(back[1].mode, S_IFREG | 0o755)
  t.equal(Buffer.from(back[1].data).toString(), 'hello\n')
  t.equal(back[3].mode, S_IFLNK | 0o777)
  t.equal(Buffer.from(back[3].data).toString(), 'bin')
  t.equal(back[4].mode, S_IFCHR | 0o600)
  t.same(back[4].rdev, [5, 1])
})

t.test('same input, same bytes', async (t) => {
  t.ok(Buffer.concat([...writeCpio(entries, 1234)]).equals(bytes))
  t.notOk(Buffer.concat([...writeCpio(entries, 1235)]).equals(bytes))
})

t.test('GNU cpio reads it', { skip: spawnSync('cpio', ['--version']).status !== 0 && 'cpio not installed' }, async (t) => {
  const dir = mkdtempSync(`${tmpdir()}/cpio-`)
  const r = spawnSync('cpio', ['-i', '--quiet', '--no-absolute-filenames'], { cwd: dir, input: Buffer.concat([...writeCpio(entries.filter((e) => e.type !== 'chardev'), 0)]) })
  t.equal(r.status, 0, r.stderr?.toString())
  t.equal(readFileSync(`${dir}/bin/hello`, 'utf8'), 'hello\n')
  t.equal(readlinkSync(`${dir}/sbin`), 'bin')
  t.ok(statSync(`${dir}/bin/hello`).mode & 0o100)
})

t.test('parentDirs: the directories above a path, in its own form', async (t) => {
  t.same(parentDirs('/usr/sbin/modload'), ['/usr', '/usr/sbin'])
  t.same(parentDirs('usr/sbin/modload'), ['usr', 'usr/sbin'])
  t.same(parentDirs('/init'), [])
  t.same(parentDirs('init'), [])
})

t.test('sourceDateEpoch: whole seconds, else 0', async (t) => {
  t.equal(sourceDateEpoch({ SOURCE_DATE_EPOCH: '1700000000' }), 1700000000)
  t.equal(sourceDateEpoch({}), 0)
  t.equal(sourceDateEpoch({ SOURCE_DATE_EPOCH: '-5' }), 0)
  t.equal(sourceDateEpoch({ SOURCE_DATE_EPOCH: '12.5' }), 0)
})
