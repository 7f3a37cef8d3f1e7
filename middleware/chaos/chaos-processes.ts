// The processes of a chaos run: the two emulators (one process each) and the middleware instances (through the
// test harness's child entry, which runs the real middleware configured from its environment).
// Every process is ONE node process with tsx as a loader (node --import tsx), never the tsx CLI: the CLI runs the
// script in a grandchild, so a SIGKILL sent to it leaves the middleware running (an orphan that still holds the
// leadership lease and its port), which is not the crash under test.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { z } from 'zod';

const announced = z.object({ url: z.string(), observer: z.string(), pid: z.number() });

export interface EmulatorProcess {
  url: string;
  observer: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

const repoRoot = path.resolve(__dirname, '..', '..');

/** Starts one emulator process and waits for the line that says where it listens. */
export async function startEmulatorProcess(which: 'salesforce' | 'activecampaign', extraEnv: Record<string, string> = {}, timeoutMs = 30_000): Promise<EmulatorProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'emulator-process.ts'), which], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const errors: string[] = [];
  readline.createInterface({ input: child.stderr! }).on('line', (line) => {
    errors.push(line);
    if (errors.length > 200) errors.shift();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const info = await new Promise<z.infer<typeof announced>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${which} emulator not up after ${timeoutMs} ms: ${errors.join('\n')}`)), timeoutMs);
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const parsed = announced.safeParse(JSON.parse(line));
        if (parsed.success) {
          clearTimeout(timer);
          resolve(parsed.data);
        }
      } catch {
        // not the announcement
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${which} emulator exited early: ${errors.join('\n')}`));
    });
  });
  return {
    url: info.url,
    observer: info.observer,
    process: child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

const readyLine = z.object({ ready: z.string(), pid: z.number() });

export interface MiddlewareInstance {
  url: string;
  pid: number;
  logs: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the real middleware (test/support/middleware-child.ts as entry) and waits for its ready line. */
export async function startMiddlewareInstance(env: Record<string, string>, timing: Record<string, number | null>, timeoutMs = 60_000): Promise<MiddlewareInstance> {
  const entry = path.join(repoRoot, 'middleware', 'test', 'support', 'middleware-child.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, OPTOUT_TEST_TIMING: JSON.stringify(timing), OPTOUT_MIDDLEWARE_CHILD: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  // CHAOS_LOG_DIR=<dir> keeps every line of every instance (stdout and stderr) in <dir>/instance-<pid>.log.
  const logFile = process.env.CHAOS_LOG_DIR ? path.join(process.env.CHAOS_LOG_DIR, `instance-${child.pid}.log`) : null;
  const keep = (line: string) => {
    if (logFile !== null) fs.appendFileSync(logFile, `${line}\n`);
  };
  readline.createInterface({ input: child.stdout! }).on('line', keep);
  readline.createInterface({ input: child.stderr! }).on('line', (line) => {
    keep(line);
    logs.push(line);
    if (logs.length > 2000) logs.splice(0, logs.length - 2000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const ready = await new Promise<z.infer<typeof readyLine>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`middleware not ready after ${timeoutMs} ms: ${logs.slice(-10).join('\n')}`)), timeoutMs);
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const parsed = readyLine.safeParse(JSON.parse(line));
        if (parsed.success) {
          clearTimeout(timer);
          resolve(parsed.data);
        }
      } catch {
        // a log line, not the announcement
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`middleware exited before ready (code ${code}, signal ${signal}): ${logs.slice(-10).join('\n')}`));
    });
  });
  return {
    url: ready.ready,
    pid: child.pid ?? -1,
    logs,
    exited,
    kill: async (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
