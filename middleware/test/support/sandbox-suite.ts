// The usual e2e suite setup, written once.
import { startSandbox, type Sandbox } from './sandbox-harness';
import { readyApp } from './sandbox-queries';
import type { Engine } from './test-databases';

/**
 * The usual e2e suite setup: one sandbox with a ready app for the whole describe block, closed after it. Returns a
 * getter (the sandbox exists only once beforeAll has run).
 */
export function readySandboxPerSuite(engine: Engine, options?: Parameters<typeof startSandbox>[1]): () => Sandbox {
  let sandbox: Sandbox | undefined;
  beforeAll(async () => {
    sandbox = await startSandbox(engine, options);
    await sandbox.startApp();
    await readyApp(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
  });
  return () => {
    if (sandbox === undefined) throw new Error('the sandbox is started in beforeAll');
    return sandbox;
  };
}
