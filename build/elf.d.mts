// Types of build/elf.mjs (plain JavaScript, as the rest of the build), for the tests.
export const PT_LOAD: number
export const NODE_NAMESPACES: readonly string[]
export interface Phdr { type: number; flags: number; off: number; vaddr: number; paddr: number; filesz: number; memsz: number; align: number }
export function readPhdrs(b: Buffer): { phoff: number; entsize: number; phdrs: Phdr[] }
export function cutPages(b: Buffer, start: number, end: number): Buffer
export function outerScope(name: string): string | undefined
export function nodeInternal(name: string): boolean
export function gnuHash(name: string): number
export function trimDynamicSymbols(b: Buffer, drop?: (name: string) => boolean): { bytes: Buffer; kept: number; dropped: number; saved: number }
export function dynamicSymbols(b: Buffer): { names: string[]; symoffset: number; lookup(name: string): number }
export function entryStub(at: number, entry: number): Buffer
export function dropNodeEnvironment(b: Buffer): Buffer
