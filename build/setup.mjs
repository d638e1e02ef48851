// setup.mjs: run before the tests, the demo and the benchmark (npm test / demo / bench), so a
// fresh clone gets what they need: the npm packages, and the Debian tools the build uses (gcc
// for the syscall shim, strip/tar for pkg's cache). Plain node:child_process, not zx: zx is
// among what it installs. QEMU, kmod and the kernels are installed by qemu/ when first needed.
import { execFileSync, spawnSync } from 'node:child_process'
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

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
const debs = [['gcc', 'gcc'], ['strip', 'binutils'], ['tar', 'tar'], ['gzip', 'gzip']].filter(([cmd]) => !has(cmd)).map(([, p]) => p)
if (debs.length) {
  if (process.getuid?.() !== 0) {
    console.error(`setup: the build needs ${debs.join(', ')}; install them (apt-get install ${debs.join(' ')}) and run again`)
    process.exit(1)
  }
  console.log(`setup: installing ${debs.join(', ')}`)
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' })
  execFileSync('apt-get', ['install', '-y', '-qq', ...debs], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
}
