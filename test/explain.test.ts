import t from 'tap'
import { explain } from '../src/load/explain.js'

t.test("kmod's words for what load_module() returns", async (t) => {
  t.equal(explain('ENOENT').text, 'No such file or directory')
  t.match(explain('ENOENT').hint, /Unknown symbol.*firmware/, 'both causes of ENOENT: a missing symbol, a missing file (firmware)')
  t.match(explain('ENOENT', '/m/x.ko', 2, 'open').hint, /module file is missing/, 'a module file that cannot be opened')
  t.equal(explain('ENOEXEC').text, 'Invalid module format')
  t.match(explain('EINVAL').hint, /parameter given to the module .* is unknown or malformed/)
  t.match(explain('EKEYREJECTED').hint, /unsigned/)
})

t.test("an errno only a module's init returns: its text, never the code twice", async (t) => {
  t.same(explain('EIO', '/m/x.ko', 5), { text: 'Input/output error', hint: "the module's init failed talking to its hardware (it returned -EIO); see dmesg for the driver's reason" })
  const erange = explain('ERANGE', '', 34)
  t.equal(erange.text, 'Numerical result out of range')
  t.match(erange.hint, /module's own init returned/)
  t.equal(explain('ERANGE').text, 'ERANGE', 'without the errno: the code')
})

t.test('a compressed file the kernel cannot unpack is EINVAL too', async (t) => {
  t.match(explain('EINVAL', '/m/x.ko.zst').hint, /decompress/)
  t.match(explain('EINVAL', '/m/x.ko.zst', 22, 'finit_module').hint, /decompress/)
  t.match(explain('EINVAL', '/m/x.ko.zst', 22, 'init_module').hint, /parameter given to the module/, 'decompressed here, then init_module: a parameter problem')
})
