import type { SqlExecutor } from './database';
import type { Clock } from './clock';

/** Time-bound leadership: the holder renews before expiry; when it dies, another instance takes over at expiry. */
export class LeaseStore {
  constructor(private readonly db: SqlExecutor, private readonly clock: Clock, private readonly holder: string) {}

  /** Takes or renews the lease; true when this instance holds it afterwards. */
  async acquire(name: string, ttlMs: number): Promise<boolean> {
    const now = this.clock();
    const result = await this.db.query(
      `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
         WHERE leases.holder = EXCLUDED.holder OR leases.expires_at < $4
       RETURNING holder`,
      [name, this.holder, new Date(now.getTime() + ttlMs), now],
    );
    return result.rows.length > 0;
  }

  /** Who holds the lease now (an unexpired one), or null. */
  async holderOf(name: string): Promise<string | null> {
    const result = await this.db.query(`SELECT holder FROM leases WHERE name = $1 AND expires_at >= $2`, [name, this.clock()]);
    const row = result.rows[0] as { holder?: unknown } | undefined;
    return typeof row?.holder === 'string' ? row.holder : null;
  }

  /** Whether this instance is the one holding it. */
  get self(): string {
    return this.holder;
  }

  async release(name: string): Promise<void> {
    await this.db.query(`DELETE FROM leases WHERE name = $1 AND holder = $2`, [name, this.holder]);
  }
}
