// The known kernel bugs (qemu/kernel-bugs.ts): each is told from its oops on a real console, no
// other panic is taken for one, and a boot is repeated only while it dies of one.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { BootResult } from '../qemu/boot.js';
import { againPastKernelBugs, knownKernelBug } from '../qemu/kernel-bugs.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'qemu');
// odd-mix, Debian 6.1: esp_scsi's handler run from uhci_hcd's interrupt while am53c974 reads its EEPROM
const oops = fs.readFileSync(path.join(fixtures, 'am53c974-oops.console'), 'utf8');

const result = (console: string, panicked: boolean): BootResult => ({
  console,
  lines: console.split('\n'),
  exitCode: 0,
  timedOut: false,
  panicked,
  durationMs: 1,
  stderr: '',
  command: [],
});

t.test('a known kernel bug is told from its oops', async (t) => {
  t.equal(knownKernelBug(result(oops, true))?.name, 'am53c974 shared interrupt during probe');
  t.equal(knownKernelBug(result(oops, false)), undefined, 'no panic, no bug');
  const other = oops.replace(/esp_reset_cleanup/g, 'ext4_fill_super');
  t.equal(knownKernelBug(result(other, true)), undefined, 'another oops is not taken for it');
  const noHandler = oops.replace(/scsi_esp_intr/g, 'some_function');
  t.equal(knownKernelBug(result(noHandler, true)), undefined, 'the whole signature must be there');
});

t.test('booted again only while the boot dies of a known bug, and at most so often', async (t) => {
  const stderr = process.stderr.write;
  const said: string[] = [];
  process.stderr.write = ((s: string) => said.push(s) > 0) as typeof process.stderr.write;
  try {
    let n = 0;
    const seq = [result(oops, true), result(oops, true), result('modload: halt', false)];
    const r = await againPastKernelBugs('test boot', async () => seq[n++]);
    t.equal(n, 3, 'two known panics, then a clean boot');
    t.notOk(r.panicked);
    t.match(said.join(''), /test boot: the kernel panicked with a known kernel bug \(am53c974 shared interrupt during probe\); booting again \(2 of 4\)/);

    n = 0;
    const always = await againPastKernelBugs('test boot', async () => (n++, result(oops, true)), 3);
    t.equal(n, 3, 'never more boots than asked for');
    t.ok(always.panicked, 'a bug that comes every time is returned, so the caller fails');

    n = 0;
    const other = await againPastKernelBugs('test boot', async () => (n++, result('Kernel panic - not syncing: VFS', true)));
    t.equal(n, 1, 'any other panic is not booted again');
    t.ok(other.panicked);
  } finally {
    process.stderr.write = stderr;
  }
});
