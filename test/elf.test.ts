import t from 'tap'
import { readFileSync, existsSync } from 'node:fs'
import { readElfDeps } from '../src/initramfs/elf.js'
import { neededLibraries } from '../src/initramfs/libs.js'

t.test('a dynamic executable of this machine', async (t) => {
  const d = readElfDeps(readFileSync('/bin/true'), '/bin/true')
  t.equal(d.interpreter, '/lib64/ld-linux-x86-64.so.2')
  t.ok(d.needed.includes('libc.so.6'))
})

t.test('closure of libraries', async (t) => {
  const libs = neededLibraries(process.execPath)
  const dests = libs.map((l) => l.dest)
  t.ok(dests.includes('/lib64/ld-linux-x86-64.so.2'))
  t.ok(dests.some((d) => d.endsWith('/libc.so.6')))
  for (const l of libs) t.ok(existsSync(l.src), l.src)
})

t.test('not an ELF file', async (t) => {
  t.throws(() => readElfDeps(Buffer.from('#!/bin/sh\necho hi\n'.padEnd(80)), 'script'), /script: not an ELF file/)
})
