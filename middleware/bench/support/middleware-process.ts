// Parent side of middleware-child.ts: forks the compiled middleware on plain node, waits until it listens, sends it
// commands, and reads its memory from /proc/<pid>/status (VmHWM is the kernel's own peak-RSS mark, so no sample
// can miss the peak).
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { appStatusSchema, childMessageSchema, type BenchAppStatus, type BenchTiming, type ChildCommand } from './ipc-messages';

export interface MiddlewareProcess {
  pid: number;
  url: string;
  logFile: string;
  status(): Promise<BenchAppStatus>;
  pollNow(): Promise<unknown>;
  metricsText(): Promise<string>;
  /** Current and peak resident set size of the middleware process, in MiB. */
  memory(): { rssMb: number; peakRssMb: number };
  stop(): Promise<void>;
}

function readMemory(pid: number): { rssMb: number; peakRssMb: number } {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
}

export async function startMiddlewareProcess(options: {
  env: Record<string, string>;
  timing: BenchTiming;
  logFile: string;
  /** The compiled middleware-child.js (compiled-child.ts). */
  compiledChild: string;
  nodeFlags: string[];
  startTimeoutMs?: number;
}): Promise<MiddlewareProcess> {
  const log = fs.openSync(options.logFile, 'a');
  // The environment is built from scratch: a DATABASE_URL or AC_* in the caller's shell must not leak in.
  const child: ChildProcess = fork(options.compiledChild, [], {
    // BENCH_CPU_PROF_DIR=<dir> writes the middleware's CPU profile there (how the PGlite claim stall was found).
    execArgv: [...options.nodeFlags, ...(process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`] : [])],
    env: { PATH: process.env.PATH ?? '', ...(process.env.BENCH_HEAP_LOG !== undefined ? { BENCH_HEAP_LOG: process.env.BENCH_HEAP_LOG } : {}), ...options.env, BENCH_TIMING: JSON.stringify(options.timing) },
    stdio: ['ignore', log, log, 'ipc'],
  });
  fs.closeSync(log);
  const pid = child.pid;
  if (pid === undefined) throw new Error('the middleware process did not start');

  let nextId = 1;
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let onReady: ((url: string) => void) | null = null;
  let onFailed: ((error: Error) => void) | null = null;
  child.on('message', (raw: unknown) => {
    const parsed = childMessageSchema.safeParse(raw);
    if (!parsed.success) return;
    const message = parsed.data;
    if (message.type === 'ready') onReady?.(message.url);
    else if (message.type === 'failed') onFailed?.(new Error(`middleware failed to start: ${message.error}`));
    else {
      const pending = waiting.get(message.id);
      waiting.delete(message.id);
      if (message.ok) pending?.resolve(message.value);
      else pending?.reject(new Error(message.error ?? 'command failed'));
    }
  });
  child.on('exit', (code, signal) => {
    const error = new Error(`middleware exited (code ${code ?? 'none'}, signal ${signal ?? 'none'}); see ${options.logFile}`);
    onFailed?.(error);
    for (const pending of waiting.values()) pending.reject(error);
    waiting.clear();
  });

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`middleware not ready after ${options.startTimeoutMs ?? 120_000} ms; see ${options.logFile}`)), options.startTimeoutMs ?? 120_000);
    onReady = (u) => {
      clearTimeout(timer);
      resolve(u);
    };
    onFailed = (e) => {
      clearTimeout(timer);
      reject(e);
    };
  });
  onFailed = null;

  // A middleware that stops answering (its embedded database busy for minutes, say) must fail the bench loudly
  // rather than hang it.
  const call = (command: ChildCommand['command']): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`the middleware did not answer "${command}" within 120 s`));
      }, 120_000);
      waiting.set(id, {
        resolve: (value: unknown) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      child.send({ id, command } satisfies ChildCommand);
    });

  return {
    pid,
    url,
    logFile: options.logFile,
    status: async () => appStatusSchema.parse(await call('status')),
    pollNow: () => call('pollNow'),
    metricsText: async () => String(await call('metrics')),
    memory: () => readMemory(pid),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await Promise.race([call('stop').catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 30_000))]);
      // A clean stop lets the process end by itself; a handle left open must not hang the bench.
      const grace = setTimeout(() => child.kill('SIGTERM'), 5000);
      await exited;
      clearTimeout(grace);
    },
  };
}
