// Block devices and what is on them: the list from /sys/class/block, each device identified
// by its superblock (UUID, LABEL, filesystem type) and its disk's partition table (PARTUUID),
// and the match against root=. The matching is pure; blockIo() is the only I/O, so the
// hand-over logic runs against a fake in tests.
import { closeSync, openSync, readFileSync, readSync, readdirSync, realpathSync } from 'node:fs'
import { probeFilesystem, SUPERBLOCK_BYTES, type FsProbe } from '../../format/blkid.js'
import { parsePartitionTable, PARTITION_TABLE_BYTES, type PartitionTable } from '../../format/blkid-parts.js'
import type { RootSpec } from './options.js'

export interface BlockDevice {
  /** name in /sys/class/block and /dev ("sda1", "nvme0n1p2"; '/' appears as '!') */
  name: string
  /** "MAJ:MIN" */
  devnum: string
  /** size in 512-byte sectors; 0 for a drive with no medium yet */
  sectors: number
  /** for a partition: its number and the disk it belongs to */
  partition?: { number: number; disk: string }
  /** the disk's logical sector size (the unit of a GPT's LBAs) */
  sectorSize: number
}

export interface Identity {
  fs: FsProbe | null
  partuuid?: string
  partlabel?: string
}

/** What the hand-over reads from the machine about block devices. */
export interface BlockIo {
  list(): BlockDevice[]
  /** the first `length` bytes of /dev/NAME (fewer at the end of the device) */
  read(name: string, length: number): Uint8Array
}

export function devPath(name: string): string {
  return `/dev/${name.replaceAll('!', '/')}`
}

/**
 * Identifies devices, reading each superblock and partition table once per (name, devnum,
 * size): a disk that reports size 0 before its medium is read is probed again later.
 */
export class Identifier {
  private readonly seen = new Map<string, Identity>()
  private readonly tables = new Map<string, PartitionTable | null>()
  constructor(private readonly io: BlockIo) {}

  private table(disk: BlockDevice | undefined): PartitionTable | null {
    if (!disk) return null
    const key = `${disk.name} ${disk.devnum} ${disk.sectors}`
    if (!this.tables.has(key)) this.tables.set(key, parsePartitionTable(this.io.read(disk.name, PARTITION_TABLE_BYTES), disk.sectorSize))
    return this.tables.get(key) ?? null
  }

  /** Throws what reading the device threw (ENOMEDIUM, EIO...); a later call tries again. */
  identify(dev: BlockDevice, all: readonly BlockDevice[]): Identity {
    const key = `${dev.name} ${dev.devnum} ${dev.sectors}`
    const known = this.seen.get(key)
    if (known) return known
    const id: Identity = { fs: dev.sectors === 0 ? null : probeFilesystem(this.io.read(dev.name, SUPERBLOCK_BYTES)) }
    if (dev.partition) {
      const p = dev.partition
      const part = this.table(all.find((d) => d.name === p.disk))?.partitions.find((x) => x.number === p.number)
      if (part) {
        id.partuuid = part.partuuid
        if (part.name !== undefined) id.partlabel = part.name
      }
    }
    if (dev.sectors > 0) this.seen.set(key, id)
    return id
  }
}

/** Whether `dev` is the device root= names; `id` is only consulted when the spec needs it. */
export function matches(spec: RootSpec, dev: BlockDevice, id: () => Identity): boolean {
  switch (spec.kind) {
    case 'name':
      return dev.name === spec.name
    case 'devnum':
      return dev.devnum === `${spec.major}:${spec.minor}`
    case 'uuid':
      return id().fs?.uuid?.toLowerCase() === spec.value.toLowerCase()
    case 'label':
      return id().fs?.label === spec.value
    case 'partuuid':
      return id().partuuid?.toLowerCase() === spec.value.toLowerCase()
  }
}

/** One line per device for a "not found" message: name, type, UUID, LABEL, PARTUUID. */
export function describeDevice(dev: BlockDevice, id: Identity | Error | undefined): string {
  if (id instanceof Error) return `${dev.name} (unreadable: ${id.message})`
  if (!id) return dev.name
  const parts = [id.fs?.type, id.fs?.uuid && `UUID=${id.fs.uuid}`, id.fs?.label && `LABEL=${id.fs.label}`, id.partuuid && `PARTUUID=${id.partuuid}`]
  const words = parts.filter((p): p is string => typeof p === 'string' && p.length > 0)
  return words.length ? `${dev.name} (${words.join(' ')})` : `${dev.name} (no filesystem)`
}

function readTrim(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1').trim()
  } catch {
    return undefined
  }
}

/** The real block devices, from sysfs and /dev. Devices vanishing mid-walk are skipped. */
export function blockIo(sysClassBlock = '/sys/class/block'): BlockIo {
  return {
    list() {
      let names: string[]
      try {
        names = readdirSync(sysClassBlock).sort()
      } catch {
        return []
      }
      const out: BlockDevice[] = []
      for (const name of names) {
        const dir = `${sysClassBlock}/${name}`
        const devnum = readTrim(`${dir}/dev`)
        if (devnum === undefined) continue
        const dev: BlockDevice = { name, devnum, sectors: Number(readTrim(`${dir}/size`) ?? 0), sectorSize: 512 }
        const partNo = readTrim(`${dir}/partition`)
        let queue = dir
        if (partNo !== undefined) {
          try {
            // /sys/devices/.../sda/sda1: the disk is the parent directory
            const real = realpathSync(dir)
            const disk = real.slice(0, real.lastIndexOf('/'))
            dev.partition = { number: Number(partNo), disk: disk.slice(disk.lastIndexOf('/') + 1) }
            queue = disk
          } catch {
            continue
          }
        }
        dev.sectorSize = Number(readTrim(`${queue}/queue/logical_block_size`) ?? 512) || 512
        out.push(dev)
      }
      return out
    },
    read(name, length) {
      const fd = openSync(devPath(name), 'r')
      try {
        const buf = new Uint8Array(length)
        let got = 0
        while (got < length) {
          const n = readSync(fd, buf, got, length - got, got)
          if (n === 0) break
          got += n
        }
        return buf.subarray(0, got)
      } finally {
        closeSync(fd)
      }
    },
  }
}

/**
 * Whether the device root= names is there now (modload.handover=early asks after each new
 * block device). Unreadable devices count as not it, for now.
 */
export function rootPresent(spec: RootSpec, io: BlockIo = blockIo()): () => boolean {
  const ider = new Identifier(io)
  return () => {
    const all = io.list()
    return all.some((dev) => {
      try {
        return matches(spec, dev, () => ider.identify(dev, all))
      } catch {
        return false
      }
    })
  }
}

/**
 * The mount table line the machine will have once the root is mounted: the device root= names,
 * read-only on /, with its filesystem type (rootfstype= when the superblock does not say).
 * For a capture made in the initramfs (modload.capture with root=), so that an image built from
 * it knows the root's chain as a build on the installed machine would. undefined when the
 * device is not there (yet) or is not identified.
 */
export function rootMountinfo(spec: RootSpec, fstypes: readonly string[], io: BlockIo = blockIo()): string | undefined {
  const ider = new Identifier(io)
  const all = io.list()
  for (const dev of all) {
    let id: Identity
    try {
      id = ider.identify(dev, all)
      if (!matches(spec, dev, () => id)) continue
    } catch {
      continue
    }
    const type = id.fs?.type ?? fstypes[0]
    if (type === undefined) return undefined
    return `1 1 ${dev.devnum} / / ro - ${type} ${devPath(dev.name)} ro\n`
  }
  return undefined
}
