// Types of build/v8blob.mjs (plain JavaScript, as the rest of the build), for the tests.
export interface V8Blob { at: number; end: number; contexts: number; magic: number }
export function v8SnapshotBlobs(bytes: Buffer, version: string): V8Blob[]
export function codeCacheRun(bytes: Buffer, from: number, magic: number): { end: number; count: number }
