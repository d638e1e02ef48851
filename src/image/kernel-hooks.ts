// The kernel hooks that keep a modload initramfs beside every installed kernel, by Debian's
// convention (kernel-img.conf(5), the kernel packages' maintainer scripts): after installing a
// kernel the package runs `run-parts --exit-on-error --arg=KVER --arg=IMAGE
// /etc/kernel/postinst.d`, after removing it the same over /etc/kernel/postrm.d, with
// DEB_MAINT_PARAMS holding the package script's own arguments. initramfs-tools and dracut
// hook in the same way; so does anything that drives those directories for other installers.
//
// This file holds the two scripts (text, made for the path of the modload executable) and
// installs or removes them under a root; `modload install-hooks` is the tool over it. The
// scripts ask `modload install-hooks --image-path KVER` where the image goes (the `output`
// setting of /etc/modload/mkinitramfs.conf, default /boot/initrd.img-KVER), so the
// configuration is read by the one parser there is, never by the shell.
import { existsSync } from 'node:fs'
import { removeOwned, under, writeWithMode, type FileAction } from './owned-files.js'
import { defaultConfigText } from './config.js'
import { IMAGE_CONFIG_FILE } from './config-fs.js'

export const POSTINST_HOOK = '/etc/kernel/postinst.d/zz-modload'
export const POSTRM_HOOK = '/etc/kernel/postrm.d/zz-modload'
/** Other image builders' hooks, for the notes `install-hooks` prints. */
export const PEER_HOOKS = ['/etc/kernel/postinst.d/initramfs-tools', '/etc/kernel/postinst.d/dracut'] as const
/** Marks a file as written by us: --remove deletes only such files. */
export const HOOK_MARK = '# written by `modload install-hooks`'

/** A word for sh, in single quotes unless plainly safe. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`
}

const COMMON = (modload: string): string => `#
${HOOK_MARK}; \`modload install-hooks --remove\` deletes it.
# The program to run; MODLOAD in the environment overrides it.
default_modload=${shellQuote(modload)}
MODLOAD=\${MODLOAD:-$default_modload}
version=\${1:-}`

/** /etc/kernel/postinst.d/zz-modload: build the new kernel's image. */
export function postinstScript(modload: string): string {
  return `#!/bin/sh
# modload: build the initramfs of a kernel that Debian has just installed.
#
# The kernel package runs every script in /etc/kernel/postinst.d in name order, with the
# kernel release as $1 and the kernel image's path as $2 (run-parts --exit-on-error: a script
# that fails makes the package's configuration fail). This one fails only when the image could
# not be built, and says why.
#
# Next to initramfs-tools or dracut: their hooks here (initramfs-tools, dracut) write the same
# /boot/initrd.img-KVER. "zz-" sorts after them, so modload's image is the one left in place,
# and before zz-update-grub, so the boot loader's configuration is made with the image there.
# initramfs-tools also rebuilds its image on its own later ("update-initramfs -u", triggered
# by packages that ship initramfs hooks), which replaces modload's: to keep both, set another
# "output" in /etc/modload/mkinitramfs.conf (e.g. /boot/modload.img-%k) and point the boot
# loader at that file, or remove initramfs-tools.
#
# INITRD=No (set for kernels that need no initramfs) skips the build, as initramfs-tools' and
# dracut's hooks do; so does DEB_MAINT_PARAMS (the package script's arguments) other than
# "configure", which means this is not an installation.
${COMMON(modload)}

if [ -z "$version" ]; then
	echo "E: modload: \${DPKG_MAINTSCRIPT_PACKAGE:-the kernel package} did not pass a kernel release" >&2
	exit 2
fi
[ "\${INITRD:-}" = No ] && exit 0
if [ -n "\${DEB_MAINT_PARAMS:-}" ]; then
	eval set -- "$DEB_MAINT_PARAMS"
	[ "\${1:-}" = configure ] || exit 0
fi
if ! command -v "$MODLOAD" >/dev/null 2>&1; then
	echo "W: modload: $MODLOAD is missing: no modload initramfs for $version (remove this hook: $0)" >&2
	exit 0
fi

if ! image=$("$MODLOAD" install-hooks --image-path "$version"); then
	echo "E: modload: no initramfs built for $version: ${IMAGE_CONFIG_FILE} cannot be used (see above)" >&2
	exit 1
fi
echo "modload: building $image" >&2
"$MODLOAD" mkinitramfs -k "$version" -o "$image" >&2
status=$?
if [ "$status" -ne 0 ]; then
	echo "E: modload: building the initramfs of $version failed (exit $status): no new $image. Fix the cause above, then run: $MODLOAD mkinitramfs -k $version -o $image" >&2
	exit 1
fi
exit 0
`
}

/** /etc/kernel/postrm.d/zz-modload: delete the removed kernel's image. */
export function postrmScript(modload: string): string {
  return `#!/bin/sh
# modload: delete the initramfs of a kernel that Debian has just removed.
#
# The kernel package runs every script in /etc/kernel/postrm.d in name order, with the kernel
# release as $1 and the kernel image's path as $2. The image is where the "output" setting of
# /etc/modload/mkinitramfs.conf says (default /boot/initrd.img-KVER, which initramfs-tools'
# and dracut's own postrm hooks delete too). Only on "remove": an upgrade of the same kernel
# package keeps its image, and a purge comes after the remove.
${COMMON(modload)}

[ -z "$version" ] && exit 0
[ "\${INITRD:-}" = No ] && exit 0
if [ -n "\${DEB_MAINT_PARAMS:-}" ]; then
	eval set -- "$DEB_MAINT_PARAMS"
	[ "\${1:-}" = remove ] || exit 0
fi

image=
if command -v "$MODLOAD" >/dev/null 2>&1; then
	image=$("$MODLOAD" install-hooks --image-path "$version") || image=
fi
# without modload (or a usable configuration): the default place
[ -n "$image" ] || image=/boot/initrd.img-$version
if [ -e "$image" ] || [ -L "$image" ]; then
	if ! rm -f -- "$image"; then
		echo "E: modload: cannot delete $image" >&2
		exit 1
	fi
	echo "modload: deleted $image" >&2
fi
exit 0
`
}

export type HookAction = FileAction

export interface InstallHooksOptions {
  /** the system to install into; default '/' */
  root?: string
  /** the program the hooks run */
  modload: string
}

/** Write both hooks (0755) and, when there is none, a commented configuration (0644).
 * Paths in the result are under the root. */
export function installHooks(opts: InstallHooksOptions): HookAction[] {
  const root = opts.root ?? '/'
  const actions: HookAction[] = []
  for (const [path, text] of [
    [POSTINST_HOOK, postinstScript(opts.modload)],
    [POSTRM_HOOK, postrmScript(opts.modload)],
  ] as const) {
    const at = under(root, path)
    const replaced = existsSync(at)
    writeWithMode(at, text, 0o755)
    actions.push({ kind: 'wrote', path: at, replaced })
  }
  const conf = under(root, IMAGE_CONFIG_FILE)
  if (existsSync(conf)) actions.push({ kind: 'kept', path: conf })
  else {
    writeWithMode(conf, defaultConfigText(), 0o644)
    actions.push({ kind: 'wrote', path: conf, replaced: false })
  }
  return actions
}

/** Delete both hooks, when they are ours; the configuration and the images stay. */
export function removeHooks(opts: { root?: string }): HookAction[] {
  const root = opts.root ?? '/'
  return [POSTINST_HOOK, POSTRM_HOOK].map((path) => removeOwned(under(root, path), HOOK_MARK))
}

/** The other image builders whose kernel hooks are installed under the root. */
export function peerHooks(root = '/'): string[] {
  return PEER_HOOKS.filter((p) => existsSync(under(root, p)))
}
