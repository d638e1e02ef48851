import t from 'tap'
import { trimByPath, trimByLastWord, trimBySecondWord, trimByFirstWord } from '../src/initramfs/trim.js'

const keep = (n: string) => ['virtio_net', 'snd_dummy'].includes(n)
t.equal(trimByPath('kernel/a/virtio_net.ko: kernel/b.ko\nkernel/x/ext4.ko:\nkernel/y/snd-dummy.ko.xz:\n', keep), 'kernel/a/virtio_net.ko: kernel/b.ko\nkernel/y/snd-dummy.ko.xz:\n')
t.equal(trimByLastWord('# c\nalias virtio:d1 virtio_net\nalias fs-ext4 ext4\n', keep), '# c\nalias virtio:d1 virtio_net\n')
t.equal(trimBySecondWord('softdep virtio_net pre: a\nsoftdep ext4 pre: crc32c\n', keep), 'softdep virtio_net pre: a\n')
t.equal(trimByFirstWord('snd-dummy snd/x c14:1\nfuse fuse c10:229\n', keep), 'snd-dummy snd/x c14:1\n')
t.equal(trimByFirstWord('fuse fuse c10:229\n', keep), '')
