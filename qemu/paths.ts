// Where the QEMU harness keeps things: the project root (found from this file's location, never
// from cwd) and the git-ignored cache below it. Every absolute path the harness uses starts here.
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { readFileSync } from 'node:fs';

/** The nearest directory above this file with modload's package.json: this file may run from a
 * bundle under .cache/run (build/run.mjs), so its own location is not always qemu/. */
function findRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    try {
      if (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).name === 'modload') return dir;
    } catch {
      // no package.json here, or not ours
    }
    if (path.dirname(dir) === dir) throw new Error(`no modload package.json above ${start}`);
  }
}

export const projectRoot: string = findRoot(path.dirname(fileURLToPath(import.meta.url)));
export const cacheDir: string = path.join(projectRoot, '.cache');
/** Unpacked kernels, one directory per `uname -r`, plus downloaded .debs and locks. */
export const kernelsDir: string = path.join(cacheDir, 'kernels');
/** Per-boot and per-test scratch directories; each user removes its own. */
export const tmpDir: string = path.join(cacheDir, 'tmp');
