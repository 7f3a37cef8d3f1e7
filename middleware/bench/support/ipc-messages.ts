// The messages between a bench (parent) and the middleware it runs as a child process, over Node's IPC channel.
// Both sides parse what they receive with these schemas: the other process is outside input like any other.
import { z } from 'zod';

export const commandSchema = z.object({
  id: z.number().int(),
  command: z.enum(['status', 'pollNow', 'metrics', 'stop']),
});
export type ChildCommand = z.infer<typeof commandSchema>;

export const childMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), url: z.string() }),
  z.object({ type: z.literal('failed'), error: z.string() }),
  z.object({ type: z.literal('reply'), id: z.number().int(), ok: z.boolean(), value: z.unknown().optional(), error: z.string().optional() }),
]);
export type ChildMessage = z.infer<typeof childMessageSchema>;

/** The timing knobs of startApp a bench may set (AppTiming), sent as JSON in BENCH_TIMING. */
export const benchTimingSchema = z
  .object({
    workerIdleMs: z.number().int().positive(),
    pollEveryMs: z.number().int().positive().nullable(),
    fullPassEveryMs: z.number().int().positive(),
    bulkPollIntervalMs: z.number().int().positive(),
    acTimeoutMs: z.number().int().positive(),
  })
  .partial();
export type BenchTiming = z.infer<typeof benchTimingSchema>;

/** What the bench reads from the child's status() reply. */
export const appStatusSchema = z.object({
  stream: z.object({ connected: z.boolean() }).passthrough().nullable(),
  queue: z.array(z.object({ kind: z.string(), state: z.string(), n: z.coerce.number() })),
  lastPollAt: z.string().nullable(),
});
export type BenchAppStatus = z.infer<typeof appStatusSchema>;
