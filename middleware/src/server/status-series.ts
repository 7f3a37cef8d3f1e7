// Series for the status page, computed from the audit log (R8) so that every instance on one database shows the
// same numbers, and a restart loses nothing.
import { z } from 'zod';
import type { SqlExecutor } from '../store';

const HOUR_MS = 3600_000;

export interface OptOutHour {
  /** Start of the hour (ISO, UTC). */
  hour: string;
  /** Emails unsubscribed in AC because Salesforce opted them out (R1). */
  salesforceToAc: number;
  /** Emails whose Salesforce records were opted out because of AC (R3, R4). */
  acToSalesforce: number;
}

const hourRow = z.object({ bucket: z.coerce.number(), direction: z.enum(['sf_to_ac', 'ac_to_sf']), n: z.coerce.number() });

/**
 * Distinct emails opted out per hour and direction over the last `hours` hours, oldest first, zero-filled. The
 * bucket is computed from the epoch, not date_trunc, so the session's time zone cannot shift it.
 */
export async function optOutsPerHour(db: SqlExecutor, now: Date, hours: number): Promise<OptOutHour[]> {
  const currentHour = Math.floor(now.getTime() / HOUR_MS);
  const firstHour = currentHour - hours + 1;
  const result = await db.query(
    `SELECT floor(extract(epoch FROM occurred_at) / 3600) AS bucket, direction, count(DISTINCT email_norm) AS n
       FROM audit_log
      WHERE occurred_at >= $1
        AND ((direction = 'sf_to_ac' AND decision LIKE 'unsubscribe%' AND result NOT LIKE 'failed%')
          OR (direction = 'ac_to_sf' AND decision = 'update-salesforce' AND new_value = 'true' AND result = 'written'))
      GROUP BY 1, 2`,
    [new Date(firstHour * HOUR_MS)],
  );
  const counts = new Map<string, number>();
  for (const raw of result.rows) {
    const row = hourRow.parse(raw);
    counts.set(`${row.bucket}:${row.direction}`, row.n);
  }
  const out: OptOutHour[] = [];
  for (let bucket = firstHour; bucket <= currentHour; bucket++) {
    out.push({
      hour: new Date(bucket * HOUR_MS).toISOString(),
      salesforceToAc: counts.get(`${bucket}:sf_to_ac`) ?? 0,
      acToSalesforce: counts.get(`${bucket}:ac_to_sf`) ?? 0,
    });
  }
  return out;
}
