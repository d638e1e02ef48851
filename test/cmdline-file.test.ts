import t from 'tap'
import { writeFileSync } from 'node:fs'
import { formatImageCmdline, imageCmdlineWords, readImageCmdline, withImageCmdline } from '../src/init/cmdline-file.js'
import { parseCmdline, flag } from '../src/format/cmdline.js'
import { parseRootOptions } from '../src/init/root/options.js'
import { parseCmdlineWords } from '../src/image/config.js'

t.test("the image's words come first, so the boot loader's win", async (t) => {
  const text = withImageCmdline('root=/dev/vda1 modload.timeout=5 quiet\n', 'root=UUID=1234 modload.timeout=30 modload.debug\n')
  t.equal(text, 'root=UUID=1234 modload.timeout=30 modload.debug root=/dev/vda1 modload.timeout=5 quiet\n')
  const c = parseCmdline(text)
  t.equal(c.params.get('root'), '/dev/vda1', 'same key: the real command line wins')
  t.equal(c.params.get('modload.timeout'), '5')
  t.ok(flag(c, 'modload.debug'), 'a key only the image has applies')
  t.ok(flag(parseCmdline(withImageCmdline('modload.debug=0', 'modload.debug')), 'modload.debug') === false, 'and the boot loader can turn it off')
})

t.test('no file, an empty file, comments', async (t) => {
  t.equal(withImageCmdline('quiet\n', undefined), 'quiet\n')
  t.equal(withImageCmdline('quiet\n', ''), 'quiet\n')
  t.equal(withImageCmdline('quiet\n', '# only a comment\n\n'), 'quiet\n')
  t.same(imageCmdlineWords('# header\n  # indented\nloglevel=3\nvirtio_blk.queue_depth=8\n'), ['loglevel=3', 'virtio_blk.queue_depth=8'], 'several lines')
})

t.test("quotes survive, init's arguments stay the boot loader's", async (t) => {
  const text = withImageCmdline('ro -- single', 'rootflags="subvol=@ root" "odd word" -- emergency')
  t.equal(text, 'rootflags="subvol=@ root" "odd word" ro -- single', "the file's own -- and what follows it are dropped")
  const c = parseCmdline(text)
  t.equal(c.params.get('rootflags'), 'subvol=@ root')
  t.ok(c.params.has('odd word'))
  t.same(c.initArgs, ['single'])
  t.same(parseRootOptions(text).initArgs, ['single'], "the hand-over's view too")
  t.equal(parseRootOptions(text).flags, 'subvol=@ root')
  // an unbalanced quote in the file cannot swallow the real command line
  const odd = parseCmdline(withImageCmdline('root=/dev/sda1', 'a="b c'))
  t.equal(odd.params.get('root'), '/dev/sda1')
  t.equal(odd.params.get('a'), 'b c')
})

t.test('module parameters from both, in order', async (t) => {
  const c = parseCmdline(withImageCmdline('snd-hda-intel.power_save=0', 'snd_hda_intel.power_save=1 snd_hda_intel.model=auto'))
  t.same(c.moduleParams.get('snd_hda_intel'), ['power_save=1', 'model=auto', 'power_save=0'], 'the last one is what the module gets')
})

t.test('the file mkinitramfs writes reads back as the configured words', async (t) => {
  const words = parseCmdlineWords('quiet rootflags="subvol=@ x" loglevel=3')
  if ('error' in words) throw new Error(words.error)
  const file = formatImageCmdline(words.value)
  t.match(file, /^# default kernel command line/)
  t.same(imageCmdlineWords(file), words.value)
  t.equal(withImageCmdline('', file), 'quiet rootflags="subvol=@ x" loglevel=3 ')
})

t.test('readImageCmdline reads the image file when there is one', async (t) => {
  const dir = t.testdir({ 'cmdline': 'modload.jobs=2\n' })
  t.equal(readImageCmdline('quiet', `${dir}/cmdline`), 'modload.jobs=2 quiet')
  t.equal(readImageCmdline('quiet', `${dir}/absent`), 'quiet', 'absent: /proc/cmdline as it is')
  writeFileSync(`${dir}/cmdline`, '')
  t.equal(readImageCmdline('quiet', `${dir}/cmdline`), 'quiet')
  t.equal(readImageCmdline('quiet', dir), 'quiet', 'unreadable (a directory): as absent')
})
