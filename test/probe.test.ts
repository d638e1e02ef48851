import t from 'tap'
import { buildModuleDb } from '../src/core/moddb.js'
import { probe, formatAction } from '../src/core/probe.js'
import { parseModprobeConf } from '../src/config/modprobe-conf.js'

const db = buildModuleDb('/m', {
  dep: 'kernel/net.ko: kernel/fo.ko kernel/crc.ko\nkernel/fo.ko: kernel/crc.ko\nkernel/crc.ko:\nkernel/pre.ko: kernel/crc.ko\nkernel/post.ko:\nkernel/bl.ko:\n',
  alias: 'alias dev:net net\nalias dev:bl bl\n',
  builtin: 'kernel/bi.ko\n',
})
const conf = (text: string) => parseModprobeConf(text, 't.conf').config
const show = (alias: string, text = '', opts = {}): string =>
  (probe(db, conf(text), alias, opts)?.plans ?? []).flatMap((p) => p.actions.map(formatAction)).join('')

t.test('dependencies from the end of the modules.dep list, then the module', async (t) => {
  t.equal(show('net'), 'insmod /m/kernel/crc.ko \ninsmod /m/kernel/fo.ko \ninsmod /m/kernel/net.ko \n')
  t.equal(show('bi'), 'builtin bi\n')
  t.equal(probe(db, conf(''), 'nothing'), null)
})

t.test('softdeps, options, install commands, blacklist', async (t) => {
  t.equal(
    show('net', 'softdep net pre: pre post: post\noptions net a=1\noptions crc c=3\n'),
    'insmod /m/kernel/crc.ko c=3 \ninsmod /m/kernel/fo.ko \ninsmod /m/kernel/crc.ko c=3 \ninsmod /m/kernel/pre.ko \ninsmod /m/kernel/net.ko a=1 \ninsmod /m/kernel/post.ko \n',
    "kmod repeats a dependency reached again through a softdep's own list",
  )
  t.equal(show('net', 'options net a=1\n', { extraOptions: 'x="1 2"' }), 'insmod /m/kernel/crc.ko \ninsmod /m/kernel/fo.ko \ninsmod /m/kernel/net.ko a=1 x="1 2"\n')
  t.equal(show('post', 'install post /bin/echo hi\n'), 'install /bin/echo hi \n')
  t.equal(show('post', 'install post /bin/echo hi\n', { ignoreCommands: true }), 'insmod /m/kernel/post.ko \n')
  t.equal(show('dev:bl', 'blacklist bl\n'), '', 'blacklisted and found through an alias: skipped')
  t.equal(show('bl', 'blacklist bl\n'), 'insmod /m/kernel/bl.ko \n', 'by its own name: loaded')
  t.equal(show('bl', 'blacklist bl\n', { useBlacklist: true }), '', '-b: skipped')
  t.equal(show('dev:net', 'options dev:net via=alias\n'), 'insmod /m/kernel/crc.ko \ninsmod /m/kernel/fo.ko \ninsmod /m/kernel/net.ko via=alias \n', 'options keyed by the alias')
})
