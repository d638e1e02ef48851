// shim-node.d.ts: types `import bytes from './shim.node'`, which esbuild's
// binary loader turns into the addon's bytes (see build/build.mjs).
declare module '*.node' {
  const bytes: Uint8Array
  export default bytes
}
declare module '*.bin' {
  const bytes: Uint8Array
  export default bytes
}
