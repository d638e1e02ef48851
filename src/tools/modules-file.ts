// `modload coldplug --modules-file FILE`: the modules a boot script would load one `modprobe`
// at a time, loaded by the coldplug that is running anyway. initramfs-tools' /init loads the
// lines of /conf/modules (its hooks' force_load list: dm-mod, the RAID personalities, efivarfs,
// and /etc/initramfs-tools/modules) right after init-top, each through `/sbin/modprobe $line`:
// a start of kmod per line, ~8 ms each on one emulated CPU before any module work. Here they
// load in this process, in the file's order, each as `modprobe LINE` would (aliases, options,
// softdeps, install commands), and the file is written anew with the lines that did not
// load, so that the boot script's own modprobe tries them again and says why.
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { lookup } from '../core/lookup.js'
import { Prober } from '../core/probe.js'
import type { ModuleDb } from '../core/moddb.js'
import type { ModprobeConfig } from '../config/modprobe-conf.js'
import { isInKernel, probeInsert, type ProbeInsertContext } from '../load/insert.js'
import { envUsesBlacklist, insertFailure, optionsFromArgs } from './modprobe.js'
import { errnoCode } from '../sys/syscalls.js'
import type { Sys } from '../sys/syscalls.js'
import type { Log } from '../init/log.js'
import { nothingToDrive } from '../init/report.js'

export interface ModuleLine {
  /** the line as the file has it */
  text: string
  name: string
  params: string[]
}

/**
 * The lines initramfs-tools' load_modules would run `/sbin/modprobe $m` for: blank lines and
 * lines starting with # skipped, the rest split into words (the module, then its parameters).
 * Pure.
 */
export function parseModulesFile(text: string): ModuleLine[] {
  const lines: ModuleLine[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const [name, ...params] = line.split(/\s+/)
    lines.push({ text: line, name, params })
  }
  return lines
}

export interface ModulesFileContext {
  db: ModuleDb
  config: ModprobeConfig
  sys: () => Sys
  sysModule: string
  log: Log
  /** the boot script's MODPROBE_OPTIONS (initramfs-tools' init exports -qb: the blacklist
   * applies to these loads) */
  modprobeOptions: string | undefined
}

/** Load each line as `modprobe NAME PARAMS` would (the blacklist too when MODPROBE_OPTIONS
 * says -b); the lines left to the boot script, in order: those that did not load (but for
 * ENODEV and ENXIO: no device for that driver, which another try does not change), and those
 * whose first word is an option (-b ...), no module. */
export async function loadModuleLines(ctx: ModulesFileContext, lines: readonly ModuleLine[]): Promise<ModuleLine[]> {
  const { db, config, log } = ctx
  const prober = new Prober(db, config)
  const say = (level: 'warn' | 'detail') => (msg: string) => {
    for (const l of msg.split('\n')) if (l.trim()) log(`modules file: ${l}`, level)
  }
  const probe: ProbeInsertContext = {
    db,
    sys: ctx.sys,
    sysModule: ctx.sysModule,
    report: { log: say('warn'), error: say('warn'), info: say('detail'), show: say('detail') },
  }
  const useBlacklist = envUsesBlacklist(ctx.modprobeOptions)
  const left: ModuleLine[] = []
  for (const line of lines) {
    if (line.name.startsWith('-')) {
      left.push(line)
      continue
    }
    const refs = lookup(db, config, line.name)
    if (refs === null || refs.length === 0) {
      log(`modules file: ${line.name}: not found in ${db.dir}; left to the boot script's modprobe`, 'warn')
      left.push(line)
      continue
    }
    const wasLive = refs.every((ref) => isInKernel(db, ctx.sysModule, ref.name))
    let err = 0
    let blacklisted = false
    let noDevice = false
    for (const ref of refs) {
      const r = await probeInsert(probe, prober, ref, { extraOptions: optionsFromArgs(line.params), useBlacklist })
      if (r > 0) blacklisted = true
      if (r >= 0) continue
      // the driver found nothing to drive (efivarfs on a machine without EFI): the same again
      // from the boot script's modprobe, which says nothing of it under -q
      if (nothingToDrive(errnoCode(-r))) noDevice = true
      else {
        err = r
        log(`modules file: ${insertFailure(ref.name, -r)}; left to the boot script's modprobe`, 'warn')
      }
    }
    if (err < 0) left.push(line)
    else log(`modules file: ${noDevice ? 'no device for it (not left for another try)' : blacklisted ? 'blacklisted (MODPROBE_OPTIONS -b)' : wasLive ? 'live already' : 'loaded'}: ${line.text}`, 'detail')
  }
  return left
}

/**
 * Load the modules `file` lists and write it anew with what is left for the boot script
 * (loadModuleLines). A file that cannot be read is left alone: the boot script loads it as
 * before.
 */
export async function takeModulesFile(ctx: ModulesFileContext, file: string): Promise<void> {
  let text: string
  try {
    text = readFileSync(file, 'latin1')
  } catch (err) {
    ctx.log(`warning: --modules-file ${file}: ${(err as Error).message}; left to the boot script`, 'warn')
    return
  }
  const lines = parseModulesFile(text)
  if (lines.length === 0) return
  const rest = (await loadModuleLines(ctx, lines)).map((l) => l.text)
  try {
    // whole or not at all: a boot script that reads a half-written list would skip modules
    writeFileSync(`${file}.modload`, rest.length ? `${rest.join('\n')}\n` : '')
    renameSync(`${file}.modload`, file)
  } catch (err) {
    ctx.log(`warning: --modules-file ${file}: cannot write what is left (${(err as Error).message}); the boot script loads the whole list again`, 'warn')
  }
}
