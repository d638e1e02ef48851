// setup.mjs: run before the tests (npm test) so a fresh clone has its
// node_modules. Plain node:child_process, not zx: zx is among what it installs.
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const wanted = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })
const missing = wanted.filter((name) => !existsSync(join(root, 'node_modules', name, 'package.json')))

if (missing.length) {
  const cmd = existsSync(join(root, 'package-lock.json')) ? 'ci' : 'install'
  console.log(`setup: missing ${missing.join(', ')}; running npm ${cmd}`)
  execFileSync('npm', [cmd, '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' })
}
