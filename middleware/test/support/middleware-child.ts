// The real middleware as a separate process, for tests that must kill it the hard way (SIGKILL leaves no chance
// to release leases, finish transactions or close the database). The configuration comes from the environment
// exactly as in production; the test timing knobs come as JSON in OPTOUT_TEST_TIMING. The child announces itself
// with one JSON line on stdout ({"ready": url, "pid": n}); its logs go to stderr.
// Run with node_modules/.bin/tsx; startMiddlewareChild() below does that from a test.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { z } from 'zod';

const readyLine = z.object({ ready: z.string(), pid: z.number() });

async function main(): Promise<void> {
  const [{ parseConfig }, { startApp }, { createLogger }] = await Promise.all([
    import('../../src/config/load-config'),
    import('../../src/app/create-app'),
    import('../../src/observability/logger'),
  ]);
  const config = parseConfig(process.env);
  const timing = z.record(z.string(), z.number().nullable()).parse(JSON.parse(process.env.OPTOUT_TEST_TIMING ?? '{}'));
  const logger = createLogger({ level: config.logLevel, secrets: config.secrets, destination: process.stderr });
  const app = await startApp(config, { logger, timing });
  process.stdout.write(`${JSON.stringify({ ready: app.url, pid: process.pid })}\n`);
  // A polite stop (SIGTERM) for the clean end of a test; SIGKILL is what the test is about.
  process.once('SIGTERM', () => {
    void app.stop().finally(() => process.exit(0));
  });
}

export interface MiddlewareChild {
  url: string;
  process: ChildProcess;
  /** Everything the child wrote on stderr (its logs), for diagnosing a failure. */
  logs: string[];
  /** Resolves when the process has exited (with its signal, if killed). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const repoRoot = path.resolve(__dirname, '..', '..', '..');

/** Starts the middleware in a child process with the given environment and waits for its ready line. */
export async function startMiddlewareChild(env: Record<string, string>, timing: Record<string, number | null>, timeoutMs = 30_000): Promise<MiddlewareChild> {
  const tsx = path.join(repoRoot, 'node_modules', '.bin', 'tsx');
  const child = spawn(tsx, [path.join(__dirname, 'middleware-child.ts')], {
    cwd: repoRoot,
    // Only what the middleware needs: PATH finds node, the rest is its configuration.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, OPTOUT_TEST_TIMING: JSON.stringify(timing), OPTOUT_MIDDLEWARE_CHILD: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    // tsx runs the script in a node process of its own and cannot relay SIGKILL to it: the child leads a process
    // group and signals go to the whole group, so that a SIGKILL really kills the middleware.
    detached: true,
  });
  const logs: string[] = [];
  readline.createInterface({ input: child.stderr! }).on('line', (line) => {
    logs.push(line);
    if (logs.length > 5000) logs.splice(0, logs.length - 5000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`middleware child not ready after ${timeoutMs} ms; last logs:\n${logs.slice(-20).join('\n')}`)), timeoutMs);
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      const parsed = readyLine.safeParse(safeJson(line));
      if (parsed.success) {
        clearTimeout(timer);
        resolve(parsed.data.ready);
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`middleware child exited before ready (code ${code}, signal ${signal}); last logs:\n${logs.slice(-20).join('\n')}`));
    });
  });
  return {
    url,
    process: child,
    logs,
    exited,
    kill: async (signal) => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(-child.pid, signal);
        } catch {
          // The group is already gone.
        }
      }
      return exited;
    },
  };
}

function safeJson(line: string): unknown {
  try {
    return JSON.parse(line) as unknown;
  } catch {
    return null;
  }
}

if (process.env.OPTOUT_MIDDLEWARE_CHILD === '1' && require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`middleware child failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
