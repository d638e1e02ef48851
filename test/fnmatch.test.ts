import t from 'tap'
import { fnmatch, isGlob, literalPrefixLength } from '../src/core/fnmatch.js'

t.test('literal, ? and *', async (t) => {
  t.ok(fnmatch('abc', 'abc'))
  t.notOk(fnmatch('abc', 'abcd'))
  t.ok(fnmatch('a?c', 'abc'))
  t.notOk(fnmatch('a?c', 'ac'))
  t.ok(fnmatch('a*', 'a'))
  t.ok(fnmatch('*', ''))
  t.ok(fnmatch('a*c*e', 'abcdcde'))
  t.notOk(fnmatch('a*c*e', 'abcdcd'))
  t.ok(fnmatch('a*/b', 'a/x/y/b'), '* crosses / without FNM_PATHNAME')
  t.ok(fnmatch('**x', 'abx'))
})

t.test('brackets', async (t) => {
  t.ok(fnmatch('[abc]', 'b'))
  t.notOk(fnmatch('[abc]', 'd'))
  t.ok(fnmatch('[a-c]x', 'bx'))
  t.ok(fnmatch('[!a-c]x', 'dx'))
  t.notOk(fnmatch('[!a-c]x', 'ax'))
  t.ok(fnmatch('[^a]', 'b'))
  t.ok(fnmatch('[]]', ']'), '] first in a set is literal')
  t.ok(fnmatch('[!]]', 'a'))
  t.ok(fnmatch('[a-]', '-'), 'trailing - is literal')
  t.ok(fnmatch('x[', 'x['), 'unclosed [ is literal')
  t.ok(fnmatch('usb:v*p*d*dc*dsc*dp*ic03isc01ip0[12]in*', 'usb:v0627p0001d0000dc00dsc00dp00ic03isc01ip02in00'))
})

t.test('escapes', async (t) => {
  t.ok(fnmatch('a\\*', 'a*'))
  t.notOk(fnmatch('a\\*', 'ab'))
})

t.test('real modalias patterns', async (t) => {
  const pat = 'pci:v00001AF4d00001000sv*sd00000001bc*sc*i*'
  t.ok(fnmatch(pat, 'pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00'))
  t.notOk(fnmatch(pat, 'pci:v00001AF4d00001001sv00001AF4sd00000001bc02sc00i00'))
  t.ok(fnmatch('cpu:type:x86,ven*fam*mod*:feature:*,00C0,*', 'cpu:type:x86,ven0000fam0006mod003F:feature:,0000,0001,00C0,0100,'))
})

t.test('helpers', async (t) => {
  t.equal(isGlob('abc'), false)
  t.equal(isGlob('a*'), true)
  t.equal(isGlob('a[b]'), true)
  t.equal(literalPrefixLength('pci:v0000*'), 9)
  t.equal(literalPrefixLength('abc'), 3)
})
