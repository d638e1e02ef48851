// A cross-process lock for the harness caches: two tap test files may ask for the same kernel at
// the same moment, and the download and unpack must happen once. mkdir is atomic, so the lock is
// a directory; it records its owner's pid so a lock left behind by a killed process is broken
// instead of waited on forever.
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface LockOptions {
  /** Give up after this long (default 30 min: a cold kernel fetch on a slow mirror). */
  timeoutMs?: number;
  /** Poll interval while another process holds the lock. */
  pollMs?: number;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM means it exists but belongs to someone else: still alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function ownerPid(lockDir: string): Promise<number | undefined> {
  try {
    const n = Number.parseInt(await fs.readFile(path.join(lockDir, 'pid'), 'utf8'), 10);
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

async function tryAcquire(lockDir: string): Promise<boolean> {
  try {
    await fs.mkdir(lockDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  await fs.writeFile(path.join(lockDir, 'pid'), String(process.pid));
  return true;
}

/** Break the lock if its owner is gone. A lock with no pid file yet is only stale once it is old:
 * its owner may be between mkdir and writeFile. Two waiters can both see the same stale lock;
 * each first renames it aside (atomic, so only one wins) and checks that what it moved is the
 * lock it judged stale, not a fresh one taken in between, which it puts back. */
async function breakIfStale(lockDir: string): Promise<void> {
  const pid = await ownerPid(lockDir);
  if (pid !== undefined) {
    // Held by another caller in this process, or by a live process: wait for it.
    if (pid === process.pid || isAlive(pid)) return;
  } else {
    const st = await fs.stat(lockDir).catch(() => undefined);
    if (!st || Date.now() - st.mtimeMs < 10_000) return;
  }
  const aside = `${lockDir}.stale-${process.pid}-${Date.now()}`;
  try {
    await fs.rename(lockDir, aside);
  } catch {
    return; // someone else broke it first
  }
  if ((await ownerPid(aside)) !== pid) await fs.rename(aside, lockDir).catch(() => undefined);
  await fs.rm(aside, { recursive: true, force: true });
}

/** Run fn while holding the lock directory `lockDir` (its parent must exist). */
export async function withLock<T>(lockDir: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30 * 60_000;
  const pollMs = opts.pollMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  while (!(await tryAcquire(lockDir))) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for lock ${lockDir} (held by pid ${await ownerPid(lockDir)}); remove it if no harness is running`);
    }
    await breakIfStale(lockDir);
    await sleep(pollMs);
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lockDir, { recursive: true, force: true });
  }
}
