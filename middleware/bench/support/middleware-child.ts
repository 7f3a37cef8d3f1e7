// Runs the real middleware (startApp) in its own process, so that its peak RSS is the middleware's alone and not
// the emulators' or the bench's. Configuration comes from the environment exactly as in production (parseConfig);
// only the timing knobs, which production does not expose, come as JSON in BENCH_TIMING. The parent drives it
// over the IPC channel (status, pollNow, metrics, stop).
import { parseConfig } from '../../src/config/load-config';
import { startApp, type RunningApp } from '../../src/app/create-app';
import { benchTimingSchema, commandSchema, type ChildMessage } from './ipc-messages';

function send(message: ChildMessage): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const timing = benchTimingSchema.parse(JSON.parse(process.env.BENCH_TIMING ?? '{}'));
  const config = parseConfig(process.env);
  const app: RunningApp = await startApp(config, { timing });
  process.on('message', (raw: unknown) => {
    const parsed = commandSchema.safeParse(raw);
    if (!parsed.success) return;
    const { id, command } = parsed.data;
    const run = async (): Promise<unknown> => {
      if (command === 'status') return app.status();
      if (command === 'pollNow') return app.pollNow();
      if (command === 'metrics') return app.metrics.registry.metrics();
      await app.stop();
      return null;
    };
    run().then(
      (value) => {
        send({ type: 'reply', id, ok: true, value: JSON.parse(JSON.stringify(value ?? null)) as unknown });
        if (command === 'stop') process.disconnect?.();
      },
      (error: unknown) => send({ type: 'reply', id, ok: false, error: error instanceof Error ? error.message : String(error) }),
    );
  });
  send({ type: 'ready', url: app.url });
  if (process.env.BENCH_HEAP_LOG === '1') {
    setInterval(() => {
      const m = process.memoryUsage();
      console.error(JSON.stringify({ heapLog: true, rss: Math.round(m.rss / 1e6), heapUsed: Math.round(m.heapUsed / 1e6), heapTotal: Math.round(m.heapTotal / 1e6), external: Math.round(m.external / 1e6), arrayBuffers: Math.round(m.arrayBuffers / 1e6) }));
    }, 3000).unref();
  }
}

main().catch((error: unknown) => {
  send({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exitCode = 1;
});
