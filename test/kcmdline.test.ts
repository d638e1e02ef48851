import t from 'tap'
import { parseKcmdline } from '../src/config/kcmdline.js'

// expected values checked against Debian's modprobe -c with the same /proc/cmdline
// (test/kmod-diff.test.ts does that on the machine when it can)
t.test("kmod 30's reading of the kernel command line", async (t) => {
  const k = parseKcmdline('quiet a.b=1 c-d.e=f_g foo.bar=1.5 x.y="a b" "p.q=r s" psmouse.proto modprobe.blacklist=m1,m-2,,m3 a.b.c=d e=f.g -- w.x=1\n')
  t.same(k.options, [
    { module: 'a', options: 'b=1' },
    { module: 'c_d', options: 'e=f_g' },
    { module: 'foo', options: 'bar=1.5' },
    { module: 'x', options: 'y="a b"' },
    { module: 'p', options: 'q="r s"' },
    { module: 'psmouse', options: 'proto' },
    { module: 'w', options: 'x=1' },
  ])
  t.same(k.blacklist, ['m1', 'm-2', '', 'm3'], 'names as written, empty ones too')
  t.same(parseKcmdline(''), { options: [], blacklist: [] })
})
