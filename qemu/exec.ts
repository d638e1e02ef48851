// The one place the harness runs host commands (apt, dpkg, depmod, cpio, xz, ...). Plain
// child_process rather than zx: zx 8's exports come out undefined when a test runs under tap's
// processinfo loader on Node 22 (which `npx tap` picks up from node_modules/.bin/node).
import { spawn } from 'node:child_process';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Bytes for the command's stdin; otherwise stdin is /dev/null. */
  input?: Uint8Array;
  /** Send the command's stdout and stderr to our stderr (progress a human may want to see,
   * like apt's) instead of capturing them. */
  passthrough?: boolean;
  /** Resolve with the exit code instead of rejecting when the command fails. */
  nothrow?: boolean;
}

export interface RunResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** Run `cmd` with `args` (no shell). Rejects if it cannot start, or exits non-zero unless
 * nothrow; the error names the command and carries its stderr. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const out = opts.passthrough ? 2 : 'pipe';
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input ? 'pipe' : 'ignore', out, out],
    });
    const stdout: Buffer[] = [];
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => stdout.push(d));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (exitCode, signal) => {
      const result = { exitCode, signal, stdout: Buffer.concat(stdout), stderr };
      if (exitCode === 0 || opts.nothrow) resolve(result);
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${exitCode}`})${stderr.trim() ? `: ${stderr.trim()}` : ''}`));
    });
    if (opts.input) {
      // A command that fails early may close its stdin; the exit status reports that.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(opts.input);
    }
  });
}

/** stdout of a command as text, or '' if it fails (for queries like apt-cache, dpkg-query). */
export async function query(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(cmd, args, { ...opts, nothrow: true });
  return r.exitCode === 0 ? r.stdout.toString() : '';
}
