// The container image, built and started without a Docker engine: the Dockerfile's own steps (read from the file)
// are carried out stage by stage in temporary directories, from a clean copy of the repository filtered by
// .dockerignore, and the resulting image directory is started with the image's ENTRYPOINT and CMD against
// PostgreSQL and both emulators, until /readyz answers 200; the HEALTHCHECK command passes; SIGTERM drains and
// exits 0. About a minute (the TypeScript build and a production `npm ci` from the npm cache).
//
// What is not reproduced here: the base image (the local Node 22 runs the steps), file ownership (`chown` to the
// image's `node` user, who does not exist here), and the build stage's full `npm ci`, which would download the
// development tools again: the checkout's own node_modules, installed from the same lockfile, stands in for it
// (IMAGE_TEST_FULL_INSTALL=1 runs that step for real too). The production install runs for real.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readDockerfile, type Stage } from './dockerfile-steps';
import { startSandboxServers, type SandboxServers } from '../../src/sandbox/run-sandbox-servers';
import { createPostgresDatabase } from '../support/test-databases';
import { freePort } from '../support/sandbox-harness';
import { waitFor } from '../support/wait-for';

const repoRoot = path.resolve(__dirname, '../../..');
const fullInstall = process.env.IMAGE_TEST_FULL_INSTALL === '1';
const nodeDir = path.dirname(process.execPath);

/** The repository as a clean checkout would have it (tracked and new files, nothing ignored), filtered by .dockerignore. */
function copyBuildContext(inContext: (file: string) => boolean, into: string): number {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: repoRoot, encoding: 'utf8' }).split('\0');
  let copied = 0;
  for (const file of listed) {
    if (file === '' || !inContext(file) || !fs.existsSync(path.join(repoRoot, file))) continue;
    fs.mkdirSync(path.dirname(path.join(into, file)), { recursive: true });
    fs.copyFileSync(path.join(repoRoot, file), path.join(into, file));
    copied += 1;
  }
  return copied;
}

interface BuiltStage {
  root: string;
  workdir: string;
  env: Record<string, string>;
  stage: Stage;
}

function runStages(stages: Stage[], context: string, work: string, log: string[]): Map<string, BuiltStage> {
  const built = new Map<string, BuiltStage>();
  for (const stage of stages) {
    const root = path.join(work, 'stages', stage.name);
    const state: BuiltStage = { root, workdir: '/', env: {}, stage };
    const inStage = (p: string, s: BuiltStage = state) => path.join(s.root, path.posix.isAbsolute(p) ? p : path.posix.join(s.workdir, p));
    for (const step of stage.instructions) {
      if (step.kind === 'WORKDIR') {
        state.workdir = path.posix.resolve(state.workdir, step.dir);
        fs.mkdirSync(inStage('.'), { recursive: true });
      } else if (step.kind === 'ENV') {
        state.env[step.name] = step.value;
      } else if (step.kind === 'COPY') {
        const source = step.from === null ? null : built.get(step.from);
        if (step.from !== null && source === undefined) throw new Error(`COPY --from=${step.from}: no such stage before ${stage.name}`);
        const target = inStage(step.dest);
        const intoDirectory = step.dest.endsWith('/') || step.sources.length > 1;
        for (const src of step.sources) {
          const from = source === undefined || source === null ? path.join(context, src) : inStage(src, source);
          if (!fs.existsSync(from)) throw new Error(`${stage.name}: COPY ${src}: not in the ${source ? `stage ${step.from}` : 'build context (see .dockerignore)'}`);
          const to = intoDirectory && !fs.statSync(from).isDirectory() ? path.join(target, path.basename(src)) : target;
          fs.mkdirSync(path.dirname(to), { recursive: true });
          fs.cpSync(from, to, { recursive: true, verbatimSymlinks: true });
        }
      } else if (step.kind === 'RUN') {
        const cwd = inStage('.');
        const started = Date.now();
        if (!fullInstall && /^npm ci(?! [^|&;]*--omit=dev)/.test(step.command)) {
          // Same lockfile, same tree: the checkout's development install stands in for the build stage's.
          expect(fs.readFileSync(path.join(cwd, 'package-lock.json'), 'utf8')).toBe(fs.readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8'));
          fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(cwd, 'node_modules'));
        } else {
          execFileSync('bash', ['-c', `set -euo pipefail; chown() { :; }; ${step.command}`], {
            cwd,
            env: { PATH: `${nodeDir}:${process.env.PATH ?? ''}`, HOME: process.env.HOME ?? os.tmpdir(), npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false', ...state.env },
            stdio: ['ignore', 'pipe', 'pipe'],
            timeout: 120_000,
          });
        }
        log.push(`${stage.name}: RUN ${step.command} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      }
    }
    built.set(stage.name, state);
  }
  return built;
}

describe('the container image, built and started from its Dockerfile', () => {
  let work: string;
  let servers: SandboxServers;
  let pg: { url: string; drop: () => Promise<void> };
  let child: ChildProcess | null = null;
  const output: string[] = [];

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'optout-image-'));
    servers = await startSandboxServers({ salesforcePort: 0, activecampaignPort: 0 });
    pg = await createPostgresDatabase();
  });
  afterAll(async () => {
    if (child !== null && child.exitCode === null) child.kill('SIGKILL');
    await servers?.close();
    await pg?.drop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('when the image is built from a clean copy and started, then /readyz answers 200, the health check passes and SIGTERM drains', async () => {
    const { stages, inContext } = readDockerfile(repoRoot);
    expect(stages.map((s) => s.base)).toEqual(stages.map(() => 'node:22-bookworm-slim'));
    const context = path.join(work, 'context');
    expect(copyBuildContext(inContext, context)).toBeGreaterThan(50);
    // Nothing local leaks into the image: no dependencies, builds, databases, tests or .env.
    for (const absent of ['node_modules', 'dist', '.env', '.data', 'middleware/test', 'force-app']) expect(fs.existsSync(path.join(context, absent))).toBe(false);

    const log: string[] = [];
    const built = runStages(stages, context, work, log);
    const final = built.get(stages.at(-1)!.name)!;
    const app = path.join(final.root, final.workdir);

    // The image holds the compiled build and the production dependencies only.
    expect(fs.existsSync(path.join(app, 'dist/cli/main.js'))).toBe(true);
    expect(fs.existsSync(path.join(app, 'dist/server/status-page/assets'))).toBe(true);
    for (const devOnly of ['typescript', 'tsx', 'jest', '@salesforce/cli', 'eslint']) expect({ devOnly, present: fs.existsSync(path.join(app, 'node_modules', devOnly)) }).toEqual({ devOnly, present: false });
    for (const runtime of ['express', 'pg', 'pino', 'jsforce', '@electric-sql/pglite']) expect(fs.existsSync(path.join(app, 'node_modules', runtime))).toBe(true);
    expect(fs.existsSync(path.join(app, 'middleware/src'))).toBe(false);

    const instructions = final.stage.instructions;
    const entrypoint = instructions.findLast((i) => i.kind === 'ENTRYPOINT')!;
    const cmd = instructions.findLast((i) => i.kind === 'CMD')!;
    const healthcheck = instructions.findLast((i) => i.kind === 'HEALTHCHECK')!;
    expect(instructions.findLast((i) => i.kind === 'USER')).toEqual({ kind: 'USER', user: 'node' });
    expect(instructions.findLast((i) => i.kind === 'STOPSIGNAL')).toEqual({ kind: 'STOPSIGNAL', signal: 'SIGTERM' });
    if (entrypoint.kind !== 'ENTRYPOINT' || cmd.kind !== 'CMD' || healthcheck.kind !== 'HEALTHCHECK') throw new Error('unreachable');

    const port = await freePort();
    const env = {
      PATH: `${nodeDir}:${process.env.PATH ?? ''}`,
      HOME: os.tmpdir(),
      ...final.env,
      // The image listens on 0.0.0.0; tests stay on loopback.
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
      DATABASE_URL: pg.url,
      SF_LOGIN_URL: servers.sf.url,
      SF_CLIENT_ID: servers.sf.clientId,
      SF_CLIENT_SECRET: servers.sf.clientSecret,
      SF_API_VERSION: servers.sf.apiVersion,
      AC_API_URL: servers.ac.url,
      AC_API_TOKEN: servers.ac.apiToken,
      ADMIN_TOKEN: 'admin-token-for-image-test-0123456789',
      WEBHOOK_SECRET: 'webhook-secret-for-image-test-0123456789',
    };
    const [command, ...args] = [...entrypoint.argv, ...cmd.argv];
    const started = Date.now();
    const running = spawn(command!, args, { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = running;
    running.stdout.on('data', (c: Buffer) => output.push(c.toString()));
    running.stderr.on('data', (c: Buffer) => output.push(c.toString()));
    const exited = new Promise<number | null>((resolve) => running.on('exit', (code) => resolve(code)));

    const ready = await waitFor(
      async () => {
        if (running.exitCode !== null) throw new Error(`the image's process exited ${running.exitCode}:\n${output.join('')}`);
        const r = await fetch(`http://127.0.0.1:${port}/readyz`);
        return r.status === 200 ? ((await r.json()) as Record<string, unknown>) : null;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: `/readyz 200 from the started image (output so far:\n${output.join('')})` },
    );
    log.push(`start: /readyz 200 after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(ready).toMatchObject({ ok: true, database: true });

    const [hcCommand, ...hcArgs] = healthcheck.command;
    execFileSync(hcCommand!, hcArgs, { cwd: app, env, timeout: 10_000 });

    const stopAt = Date.now();
    running.kill('SIGTERM');
    expect(await exited).toBe(0);
    log.push(`stop: exited 0 ${((Date.now() - stopAt) / 1000).toFixed(1)} s after SIGTERM`);
    const text = output.join('');
    expect(text).toMatch(/optout-sync is running at http:\/\/127\.0\.0\.1:\d+/);
    expect(text).toMatch(/SIGTERM received: stopping/);
    expect(text).toMatch(/^stopped\.$/m);
    process.stdout.write(`${log.join('\n')}\n`);
  }, 240_000);
});
