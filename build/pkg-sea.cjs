// pkg-sea.cjs: makes a Node single-executable with a V8 start-up snapshot, through
// @yao-pkg/pkg's own sea() (lib-es5/sea.js). pkg's CLI passes no seaConfig in simple --sea
// mode, so useSnapshot is only reachable this way. Runs under the Node that is embedded
// (pkg needs >= 22, and the snapshot must be made by the same Node that will read it).
// Usage: node pkg-sea.cjs BUNDLE NODE_BINARY OUTPUT [snapshot|code-cache|plain] [node-options-cli]
//   node-options-cli: the executable takes `--node-options="FLAGS"` first on its command line
//   (Node's execArgvExtension "cli"), to try Node and V8 flags at run time; never for dist/modload
'use strict'
const { join, dirname } = require('node:path')
const [bundle, nodePath, output, mode = 'snapshot', ...more] = process.argv.slice(2)
if (!bundle || !nodePath || !output || more.some((m) => m !== 'node-options-cli')) {
  console.error('usage: pkg-sea.cjs BUNDLE NODE_BINARY OUTPUT [snapshot|code-cache|plain] [node-options-cli]')
  process.exit(2)
}
if (!['snapshot', 'code-cache', 'plain'].includes(mode)) {
  console.error(`pkg-sea.cjs: unknown mode ${mode}: snapshot, code-cache or plain`)
  process.exit(2)
}
const lib = join(dirname(require.resolve('@yao-pkg/pkg/package.json')), 'lib-es5')
const sea = require(join(lib, 'sea.js')).default
const version = process.version.slice(1)
sea(bundle, {
  targets: [{ nodeRange: `node${version}`, platform: 'linux', arch: 'x64', output }],
  // the (stripped) binary to embed, and the one that builds the blob: never a download
  nodePath,
  // code-cache: V8's bytecode of the main script's eagerly compiled functions, no heap
  seaConfig: {
    useSnapshot: mode === 'snapshot',
    useCodeCache: mode === 'code-cache',
    disableExperimentalSEAWarning: true,
    // NODE_OPTIONS is not read: a kernel command line's NODE_OPTIONS=... (init's environment)
    // would otherwise add Node flags before modload's first line, and a bad one ends the
    // process (exit 9: as /init, a kernel panic); modload is not a Node program to its users
    execArgvExtension: more.includes('node-options-cli') ? 'cli' : 'none',
    // nor OPENSSL_CONF: Node loads OpenSSL's configuration as it starts, and one that does not
    // parse (OPENSSL_CONF=/etc/passwd on the kernel command line) ended it with exit 101. The
    // flag wins over the variable; /dev/null is empty, or absent, which OpenSSL ignores as
    // it does the default file it finds absent (modload uses no OpenSSL)
    execArgv: ['--openssl-config=/dev/null'],
  },
}).catch((err) => {
  console.error(err?.stack ?? err)
  process.exit(1)
})
