import t from 'tap'
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { installHooksTool } from '../src/tools/install-hooks.js'
import { HOOK_MARK, POSTINST_HOOK, POSTRM_HOOK, postinstScript, shellQuote } from '../src/image/kernel-hooks.js'
import { defaultConfigText } from '../src/image/config.js'
import type { ToolIo } from '../src/tools/io.js'

const KVER = '6.1.0-99-amd64'

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const io: ToolIo = {
    prog: 'install-hooks',
    out: (s) => void (out += s),
    err: (s) => void (err += s),
    sys: () => {
      throw new Error('no syscalls here')
    },
    stdin: async () => '',
  }
  const code = await installHooksTool.run(argv, io)
  return { code, out, err }
}

/** A fake modload: records each call's arguments, one line per call, answers --image-path
 * with IMAGE_DIR/img-KVER, makes the -o file for mkinitramfs unless FAKE_FAIL says otherwise. */
function fakeModload(dir: string): { bin: string; log: string; images: string } {
  const bin = `${dir}/bin`
  const log = `${dir}/calls.log`
  const images = `${dir}/boot`
  mkdirSync(bin, { recursive: true })
  mkdirSync(images, { recursive: true })
  writeFileSync(
    `${bin}/modload`,
    `#!/bin/sh
printf '%s\\n' "$*" >> ${shellQuote(log)}
case "$1" in
install-hooks)
	[ "$2" = --image-path ] || exit 9
	[ -n "\${FAKE_CONFIG_BROKEN:-}" ] && { echo "/etc/modload/mkinitramfs.conf:3: unknown directive" >&2; exit 1; }
	echo ${shellQuote(images)}/img-"$3"
	;;
mkinitramfs)
	[ -n "\${FAKE_FAIL:-}" ] && { echo "mkinitramfs: module foo not found" >&2; exit "$FAKE_FAIL"; }
	out=
	while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done
	echo image > "$out"
	;;
*) exit 9 ;;
esac
`,
  )
  chmodSync(`${bin}/modload`, 0o755)
  return { bin, log, images }
}

function calls(log: string): string[] {
  return existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => l !== '') : []
}

function hook(shell: string, script: string, args: string[], env: Record<string, string>) {
  const r = spawnSync(shell, [script, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, encoding: 'utf8' })
  return { code: r.status, stderr: r.stderr, stdout: r.stdout }
}

t.test('install into a root: the hooks (0755), a commented configuration (0644), what to do next', async (t) => {
  const root = t.testdir({})
  const r = await run(['--root', root])
  t.equal(r.code, 0, r.err)
  for (const p of [POSTINST_HOOK, POSTRM_HOOK]) {
    const st = statSync(root + p)
    t.equal(st.mode & 0o777, 0o755, `${p} is 0755`)
    const text = readFileSync(root + p, 'utf8')
    t.match(text, /^#!\/bin\/sh\n/)
    t.ok(text.includes(HOOK_MARK))
    t.match(text, /^default_modload=modload$/m, 'with --root, modload is found on PATH')
  }
  const conf = `${root}/etc/modload/mkinitramfs.conf`
  t.equal(statSync(conf).mode & 0o777, 0o644)
  t.equal(readFileSync(conf, 'utf8'), defaultConfigText())
  t.match(r.out, `wrote ${root}/etc/kernel/postinst.d/zz-modload\n`)
  t.match(r.out, `wrote ${root}/etc/kernel/postrm.d/zz-modload\n`)
  t.match(r.out, `wrote ${conf}\n`)
  t.match(r.out, 'Next, build the image for the running kernel:\n  modload mkinitramfs -k $(uname -r) -o /boot/initrd.img-$(uname -r)\n')
  t.notMatch(r.out, /Note:/, 'no other image builder here')

  // again, with the user's configuration in place and initramfs-tools' hook beside ours
  writeFileSync(conf, 'output /boot/modload.img-%k\n')
  writeFileSync(`${root}/etc/kernel/postinst.d/initramfs-tools`, '#!/bin/sh\n')
  const again = await run(['--root', root, '--modload', '/opt/my modload/modload'])
  t.equal(again.code, 0)
  t.match(again.out, `replaced ${root}/etc/kernel/postinst.d/zz-modload\n`)
  t.match(again.out, `kept ${conf} (yours)\n`)
  t.equal(readFileSync(conf, 'utf8'), 'output /boot/modload.img-%k\n', 'an existing configuration is kept')
  t.match(readFileSync(root + POSTINST_HOOK, 'utf8'), /^default_modload='\/opt\/my modload\/modload'$/m, '--modload, quoted for sh')
  t.match(again.out, /Note: \/etc\/kernel\/postinst.d\/initramfs-tools is installed too .*modload writes \/boot\/modload.img-%k instead/)
  t.match(again.out, '-o /boot/modload.img-$(uname -r)\n', "next step uses the configuration's output")

  writeFileSync(conf, 'output /boot/initrd.img-%k\n')
  const shared = await run(['--root', root])
  t.match(shared.out, /its image wins when a kernel is installed, but that tool's own rebuilds \(update-initramfs -u/)
})

t.test('install with a broken configuration: hooks in place, the errors said, exit 1', async (t) => {
  const root = t.testdir({ etc: { modload: { 'mkinitramfs.conf': 'modules host\ncompres zstd\n' } } })
  const r = await run(['--root', root])
  t.equal(r.code, 1)
  t.ok(existsSync(root + POSTINST_HOOK))
  t.match(r.err, `${root}/etc/modload/mkinitramfs.conf:2: unknown directive "compres" (did you mean "compress"?)`)
  t.match(r.err, 'will fail until the configuration is fixed')
})

t.test('--remove', async (t) => {
  const root = t.testdir({})
  await run(['--root', root])
  const r = await run(['--root', root, '--remove'])
  t.equal(r.code, 0)
  t.notOk(existsSync(root + POSTINST_HOOK))
  t.notOk(existsSync(root + POSTRM_HOOK))
  t.ok(existsSync(`${root}/etc/modload/mkinitramfs.conf`), 'the configuration stays')
  t.match(r.out, `deleted ${root}${POSTINST_HOOK}\n`)
  const twice = await run(['--root', root, '--remove'])
  t.equal(twice.code, 0)
  t.match(twice.out, `${root}${POSTRM_HOOK}: not installed\n`)
  writeFileSync(root + POSTINST_HOOK, '#!/bin/sh\n# my own\n')
  const foreign = await run(['--root', root, '--remove'])
  t.equal(foreign.code, 1)
  t.ok(existsSync(root + POSTINST_HOOK), 'a file we did not write is left alone')
  t.match(foreign.out, 'not written by modload install-hooks')
  await t.rejects(run(['--root', root, '--remove', '--modload', '/x']), { name: 'UsageError' })
})

t.test('--image-path: the configuration says where the image goes', async (t) => {
  const root = t.testdir({})
  t.same(await run(['--root', root, '--image-path', KVER]), { code: 0, out: `/boot/initrd.img-${KVER}\n`, err: '' }, 'the default')
  mkdirSync(`${root}/etc/modload/mkinitramfs.conf.d`, { recursive: true })
  writeFileSync(`${root}/etc/modload/mkinitramfs.conf`, 'output /boot/a-%k\n')
  writeFileSync(`${root}/etc/modload/mkinitramfs.conf.d/50-b.conf`, 'output /boot/modload-%k.img\n')
  t.equal((await run(['--root', root, '--image-path', KVER])).out, `/boot/modload-${KVER}.img\n`, 'the .d directory wins')
  writeFileSync(`${root}/etc/modload/mkinitramfs.conf.d/60-c.conf`, 'output /boot/x\n')
  await t.rejects(run(['--root', root, '--image-path', KVER]), { name: 'MkInitramfsConfigError', message: /60-c\.conf:1: output \/boot\/x: must contain %k/ })
  await t.rejects(run(['--image-path', '../x']), { name: 'UsageError' })
  await t.rejects(run(['--bogus']), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' })
  t.match((await run(['--help'])).out, /^usage: modload install-hooks/)
})

for (const shell of ['bash', 'dash']) {
  const missing = spawnSync(shell, ['-c', 'true']).error !== undefined
  t.test(`the postinst hook, run by ${shell}`, { skip: missing ? `no ${shell}` : false }, async (t) => {
    const dir = t.testdir({})
    const root = `${dir}/root`
    const fake = fakeModload(dir)
    await run(['--root', root])
    const script = root + POSTINST_HOOK
    const env = { PATH: `${fake.bin}:${process.env.PATH}` }
    const image = `${fake.images}/img-${KVER}`

    const ok = hook(shell, script, [KVER, `/boot/vmlinuz-${KVER}`], env)
    t.equal(ok.code, 0, ok.stderr)
    t.same(calls(fake.log), [`install-hooks --image-path ${KVER}`, `mkinitramfs -k ${KVER} -o ${image}`], 'asks where, then builds there')
    t.equal(readFileSync(image, 'utf8'), 'image\n')
    t.match(ok.stderr, `modload: building ${image}`)
    t.equal(ok.stdout, '', 'everything on stderr, as the other hooks do')

    const reset = () => writeFileSync(fake.log, '')
    reset()
    t.equal(hook(shell, script, [KVER], { ...env, INITRD: 'No' }).code, 0)
    t.same(calls(fake.log), [], 'INITRD=No: nothing to do')
    t.equal(hook(shell, script, [KVER], { ...env, DEB_MAINT_PARAMS: 'abort-upgrade 6.1.0' }).code, 0)
    t.same(calls(fake.log), [], 'not a configure: nothing to do')
    t.equal(hook(shell, script, [KVER], { ...env, DEB_MAINT_PARAMS: "configure ''" }).code, 0)
    t.equal(calls(fake.log).length, 2, 'configure: builds')

    reset()
    const failed = hook(shell, script, [KVER], { ...env, FAKE_FAIL: '3' })
    t.equal(failed.code, 1)
    t.match(failed.stderr, 'mkinitramfs: module foo not found', "the builder's own message")
    t.match(failed.stderr, `E: modload: building the initramfs of ${KVER} failed (exit 3): no new ${image}. Fix the cause above, then run: modload mkinitramfs -k ${KVER} -o ${image}`)

    reset()
    const broken = hook(shell, script, [KVER], { ...env, FAKE_CONFIG_BROKEN: '1' })
    t.equal(broken.code, 1)
    t.match(broken.stderr, '/etc/modload/mkinitramfs.conf:3: unknown directive')
    t.match(broken.stderr, `E: modload: no initramfs built for ${KVER}: /etc/modload/mkinitramfs.conf cannot be used`)
    t.same(calls(fake.log), [`install-hooks --image-path ${KVER}`], 'no build without a configuration')

    const noVersion = hook(shell, script, [], { ...env, DPKG_MAINTSCRIPT_PACKAGE: 'linux-image-x' })
    t.equal(noVersion.code, 2)
    t.match(noVersion.stderr, 'E: modload: linux-image-x did not pass a kernel release')

    const gone = hook(shell, script, [KVER], { PATH: '/usr/bin:/bin' })
    t.equal(gone.code, 0, 'modload uninstalled: the kernel still installs')
    t.match(gone.stderr, 'W: modload: modload is missing')

    // the path baked in at install time, and MODLOAD over it
    await run(['--root', root, '--modload', `${fake.bin}/modload`])
    reset()
    t.equal(hook(shell, script, [KVER], { PATH: '/usr/bin:/bin' }).code, 0)
    t.equal(calls(fake.log).length, 2, 'the baked-in path needs no PATH')
    t.equal(hook(shell, script, [KVER], { PATH: '/usr/bin:/bin', MODLOAD: '/nonexistent/modload' }).code, 0)
    t.equal(calls(fake.log).length, 2, 'MODLOAD overrides it (here: to a missing program)')
  })

  t.test(`the postrm hook, run by ${shell}`, { skip: missing ? `no ${shell}` : false }, async (t) => {
    const dir = t.testdir({})
    const root = `${dir}/root`
    const fake = fakeModload(dir)
    await run(['--root', root])
    const script = root + POSTRM_HOOK
    const env = { PATH: `${fake.bin}:${process.env.PATH}` }
    const image = `${fake.images}/img-${KVER}`
    writeFileSync(image, 'old')
    const kept = hook(shell, script, [KVER, `/boot/vmlinuz-${KVER}`], { ...env, DEB_MAINT_PARAMS: 'upgrade 6.1.0-99' })
    t.equal(kept.code, 0)
    t.ok(existsSync(image), 'an upgrade of the same kernel keeps its image')
    t.equal(hook(shell, script, [KVER], { ...env, INITRD: 'No' }).code, 0)
    t.ok(existsSync(image), 'INITRD=No: nothing to do')
    const removed = hook(shell, script, [KVER, `/boot/vmlinuz-${KVER}`], { ...env, DEB_MAINT_PARAMS: 'remove' })
    t.equal(removed.code, 0, removed.stderr)
    t.notOk(existsSync(image), 'the image is gone')
    t.match(removed.stderr, `modload: deleted ${image}`)
    t.same(calls(fake.log), [`install-hooks --image-path ${KVER}`])
    const again = hook(shell, script, [KVER], env)
    t.equal(again.code, 0, 'nothing to delete: fine')
    t.equal(again.stderr, '')
    t.equal(hook(shell, script, [], env).code, 0, 'no release: nothing to do')
  })
}

t.test('the scripts are valid sh', async (t) => {
  for (const shell of ['bash', 'dash']) {
    if (spawnSync(shell, ['-c', 'true']).error) continue
    const r = spawnSync(shell, ['-n', '-c', postinstScript("/usr/bin/it's")], { encoding: 'utf8' })
    t.equal(r.status, 0, `${shell} -n: ${r.stderr}`)
  }
  t.equal(shellQuote("a'b c"), `'a'\\''b c'`)
  t.equal(shellQuote('/usr/bin/modload'), '/usr/bin/modload')
})
