// Fault injection for /api/3 calls: what a client meets on a bad day. A fault applies to the next `count`
// matching calls, or until `untilMs` (epoch ms) / for `durationMs`, or until cleared. "503 as throttle" is the
// older field report of AC answering 503 instead of 429 at the rate limit (research §1): status 503 here.
import { z } from 'zod';

export const faultSpecSchema = z
  .object({
    /** answer this HTTP status instead of serving the call */
    status: z.number().int().min(100).max(599).optional(),
    /** add Retry-After (seconds) to a status fault */
    retryAfterSeconds: z.number().int().min(0).optional(),
    /** how many matching calls it applies to */
    count: z.number().int().positive().optional(),
    /** absolute end time, epoch milliseconds */
    untilMs: z.number().optional(),
    /** relative end time */
    durationMs: z.number().positive().optional(),
    /** delay before answering (combined with the others, or alone) */
    latencyMs: z.number().min(0).optional(),
    /** never answer: the client must time out */
    hang: z.boolean().optional(),
    /** refuse the Api-Token as AC does when a key was deleted or rotated: 403 with AC's error body (the reference's
     *  Errors page: "403 - The request could not be authenticated"), whatever token the call carries */
    invalidToken: z.boolean().optional(),
    /** answer 200 with a body that is not the JSON AC would send */
    garbage: z.boolean().optional(),
    /** only calls whose method matches */
    method: z.string().optional(),
    /** only calls whose path (after /api/3) starts with this */
    pathPrefix: z.string().optional(),
  })
  .strict();
export type FaultSpec = z.infer<typeof faultSpecSchema>;

interface ActiveFault {
  spec: FaultSpec;
  remaining: number;
  until: number;
}

export type FaultAction =
  | { kind: 'none'; latencyMs: number }
  | { kind: 'status'; status: number; retryAfterSeconds?: number; latencyMs: number }
  | { kind: 'hang' }
  | { kind: 'invalid-token'; latencyMs: number }
  | { kind: 'garbage'; body: string; latencyMs: number };

const GARBAGE_BODIES = [
  '<html><body><h1>502 Bad Gateway</h1></body></html>',
  '{"contacts":[{"id":"1","email":',
  '\u0000\u0001\u00ff{]}',
  'null',
  '{"meta":{"total":"NaN"},"contacts":"not-an-array"}',
  '',
];

export class FaultInjector {
  private faults: ActiveFault[] = [];
  private garbageIndex = 0;

  add(spec: FaultSpec): void {
    const now = Date.now();
    const until = spec.untilMs ?? (spec.durationMs !== undefined ? now + spec.durationMs : Number.POSITIVE_INFINITY);
    this.faults.push({ spec, remaining: spec.count ?? Number.POSITIVE_INFINITY, until });
  }

  clear(): void {
    this.faults = [];
  }

  get active(): FaultSpec[] {
    return this.faults.map((f) => f.spec);
  }

  /** Decides the fault for one call and consumes one unit of its count. */
  take(method: string, path: string): FaultAction {
    const now = Date.now();
    this.faults = this.faults.filter((f) => f.remaining > 0 && f.until > now);
    const fault = this.faults.find(
      (f) =>
        (f.spec.method === undefined || f.spec.method.toUpperCase() === method.toUpperCase()) &&
        (f.spec.pathPrefix === undefined || path.startsWith(f.spec.pathPrefix)),
    );
    if (!fault) return { kind: 'none', latencyMs: 0 };
    fault.remaining -= 1;
    const { spec } = fault;
    const latencyMs = spec.latencyMs ?? 0;
    if (spec.hang) return { kind: 'hang' };
    if (spec.invalidToken) return { kind: 'invalid-token', latencyMs };
    if (spec.garbage) {
      const body = GARBAGE_BODIES[this.garbageIndex++ % GARBAGE_BODIES.length] ?? '';
      return { kind: 'garbage', body, latencyMs };
    }
    if (spec.status !== undefined)
      return { kind: 'status', status: spec.status, retryAfterSeconds: spec.retryAfterSeconds, latencyMs };
    return { kind: 'none', latencyMs };
  }
}
