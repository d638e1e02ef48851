// The peer initramfs builders (initramfs/peers.ts): the pure parts (tool arguments, the private
// namespace's script, the parsers) on their own, then real images made by Debian's own tools for
// the 6.1 kernel, booted in QEMU on the virtio machine to a real ext4 root whose init prints a
// marker: initramfs-tools MODULES=most, dracut --no-hostonly and tiny-initramfs. Building must
// leave the host's mounts and /lib/modules as they were.
import t from 'tap'
import fs from 'node:fs/promises'
import path from 'node:path'
import { ensureHostTools } from '../qemu/deps.js'
import { run } from '../qemu/exec.js'
import { ensureKernel } from '../qemu/kernels.js'
import {
  bootToRoot,
  devBlockLinks,
  ensurePeerImage,
  initramfsToolsConf,
  namespaceScript,
  parseRootMarker,
  peerKinds,
  peerSpecs,
  rootInitScript,
  rootMount,
  rootUuid,
  shQuote,
  toolArgs,
  virtioExt4Modules,
  warningLines,
  type PeerKind,
} from '../initramfs/peers.js'

t.test('tool arguments', async (t) => {
  const p = { kver: '6.1.0-9-amd64', out: '/o/img', confDir: '/c', kmoddir: '/k/lib/modules/6.1.0-9-amd64', tmp: '/t', modules: ['virtio_blk', 'ext4'] }
  t.same(toolArgs('initramfs-tools-dep', p), ['-d', '/c', '-o', '/o/img', '6.1.0-9-amd64'])
  const host = toolArgs('dracut-hostonly', { ...p, extra: ['--filesystems', 'ext4'] })
  t.ok(host.includes('--hostonly') && !host.includes('--no-hostonly'), 'dracut host-only')
  t.equal(host[host.indexOf('--kmoddir') + 1], p.kmoddir, 'the cached module tree')
  t.same(host.slice(-3), ['--filesystems', 'ext4', '/o/img'], 'extra arguments before the output')
  const generic = toolArgs('dracut-generic', p)
  t.ok(generic.includes('--no-hostonly') && generic.includes('--zstd') && generic.includes('--no-hostonly-cmdline'))
  t.equal(generic[generic.indexOf('--conf') + 1], '/c/dracut.conf', 'private dracut.conf, not /etc')
  t.same(toolArgs('tiny-initramfs', p), ['-o', '/o/img', '-m', 'no', '-M', 'no', '-d', 'no', '--include-modules=virtio_blk,ext4', '6.1.0-9-amd64'])
  for (const k of peerKinds) t.ok(peerSpecs[k].package.endsWith('-core'), `${k}: from a -core package (the front packages conflict)`)
})

t.test('initramfs.conf', async (t) => {
  t.match(initramfsToolsConf('dep'), /^MODULES=dep$/m)
  t.match(initramfsToolsConf('most'), /^MODULES=most$/m)
  t.match(initramfsToolsConf('most'), /^COMPRESS=zstd$/m)
})

t.test('private namespace script', async (t) => {
  const s = namespaceScript({ stub: '/s', libDir: '/usr/lib', modules: { kver: '6.1.0-9-amd64', tree: '/cache/k/lib/modules/6.1.0-9-amd64' }, boot: true })
  const lines = s.trim().split('\n')
  t.equal(lines[0], 'set -e')
  t.equal(lines[1], "mount -t overlay modload-peers-lib -o 'lowerdir=/s/lib:/usr/lib' '/usr/lib'", 'our layer over the host lib dir, read-only')
  t.equal(lines[2], "mount --bind '/cache/k/lib/modules/6.1.0-9-amd64' '/usr/lib/modules/6.1.0-9-amd64'")
  t.equal(lines[3], "mount -t overlay modload-peers-boot -o 'lowerdir=/s/boot:/boot' '/boot'")
  t.equal(lines.at(-1), 'exec "$@"')
  t.notMatch(namespaceScript({ stub: '/s', dev: true }), /--bind/, 'dev only: no module tree')
  t.throws(() => namespaceScript({ stub: '/a,b', dev: true }), /overlay layer/)
  t.equal(shQuote("it's"), `'it'\\''s'`)
})

t.test('parsers', async (t) => {
  const mountinfo = [
    '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard',
    '23 22 0:5 / /dev rw - devtmpfs devtmpfs rw',
    '',
  ].join('\n')
  t.same(rootMount(mountinfo), { majmin: '254:0', fstype: 'ext4', source: '/dev/vda' })
  t.equal(rootMount('23 22 0:5 / /dev rw - devtmpfs devtmpfs rw\n'), undefined)
  t.same(devBlockLinks([{ majmin: '254:0', devname: 'vda' }, { majmin: '7:0', devname: 'loop0' }, { majmin: '1:1' }]), [['254:0', '../vda'], ['7:0', '../loop0']])
  t.same(parseRootMarker(['[ 1.0] x', 'Begin: foo peers: root uptime=12.34 idle=5.60 pid=1']), { uptime: 12.34, idle: 5.6, pid: 1 })
  t.equal(parseRootMarker(['peers: root uptime=?']), undefined)
  t.match(rootInitScript(), /^#!\/bin\/sh\n/)
  t.match(rootInitScript(), /poweroff -f/)
  t.same(
    warningLines("dracut: dracut module 'lvm' will not be installed, because command 'lvm' could not be found!\nW: missing firmware\ndracut: *** Including module: base ***\n"),
    ['W: missing firmware'],
  )
})

// ---------------------------------------------------------------------------------------------
// Real images, real boots (QEMU under TCG)

const mountsOf = async () => (await fs.readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ').slice(3, 5).join(' ')).sort().join('\n')

t.test('built by their own tools, booted to the root on virtio (6.1)', async (t) => {
  await ensureHostTools()
  const kernel = await ensureKernel('6.1')
  const modulesLink = path.join('/lib/modules', kernel.version)
  const before = { mounts: await mountsOf(), modules: await fs.lstat(modulesLink).then((s) => s.mode, () => 'absent') }

  const cases: Array<{ kind: PeerKind; expect: RegExp[] }> = [
    { kind: 'initramfs-tools-most', expect: [/\/virtio_blk\.ko$/, /\/ext4\.ko$/, /\/nvme\.ko$/, /^usr\/bin\/udevadm$|^bin\/udevadm$/] },
    { kind: 'dracut-generic', expect: [/\/virtio_blk\.ko$/, /\/ext4\.ko$/, /\/systemd$/] },
    { kind: 'tiny-initramfs', expect: [/^virtio_blk\.ko$/, /^ext4\.ko$/, /^crc32c_generic\.ko$/, /^modules$/] },
  ]
  for (const c of cases) {
    t.test(c.kind, async (t) => {
      const img = await ensurePeerImage(c.kind, kernel)
      t.comment(`${c.kind}: ${img.path} ${img.bytes} bytes, ${img.buildSeconds.toFixed(1)} s${img.cached ? ' (cached)' : ''}, ${img.tool}`)
      t.equal((await fs.stat(img.path)).size, img.bytes, 'size as reported')
      t.ok(img.buildSeconds > 0, 'build time recorded')
      t.match(img.tool, new RegExp(`^${peerSpecs[c.kind].package} \\S+$`), 'tool and version')
      const list = (await run('lsinitramfs', [img.path])).stdout.toString().split('\n')
      for (const re of c.expect) t.ok(list.some((l) => re.test(l)), `the image holds ${re}`)
      if (c.kind === 'tiny-initramfs') {
        const mods = await run('sh', ['-c', 'zcat "$1" | cpio -i --quiet --to-stdout modules', 'sh', img.path])
        const order = mods.stdout.toString().trim().split('\n')
        for (const m of virtioExt4Modules) t.ok(order.some((l) => l.startsWith(`/${m}.ko`) || l.startsWith(`/${m.replaceAll('_', '-')}.ko`)), `${m} in /modules`)
        t.ok(order.indexOf('/virtio.ko') < order.indexOf('/virtio_blk.ko'), 'dependencies first')
      }

      const b = await bootToRoot({ kernel, image: img.path, machine: 'virtio' })
      if (!b.reached) t.comment(b.result.lines.slice(-60).join('\n'))
      t.notOk(b.result.timedOut, 'did not time out')
      t.ok(b.reached, `the root (UUID=${rootUuid}) ran its init`)
      t.equal(b.pid, 1, 'as PID 1')
      t.ok((b.uptime ?? 0) > 0 && (b.idle ?? -1) >= 0, `uptime ${b.uptime} s`)
      t.equal(b.result.exitCode, 0, 'powered off')
    })
  }

  t.test('the host is as it was', async (t) => {
    t.equal(await mountsOf(), before.mounts, 'no mount left behind')
    t.equal(await fs.lstat(modulesLink).then((s) => s.mode, () => 'absent'), before.modules, `${modulesLink} untouched`)
  })
})
