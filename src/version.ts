// The program's version, set by the build from package.json (esbuild --define), with a
// fallback for tests that run the sources directly.
declare const MODLOAD_VERSION: string | undefined
export const VERSION: string = typeof MODLOAD_VERSION === 'string' ? MODLOAD_VERSION : '0.0.0-dev'
