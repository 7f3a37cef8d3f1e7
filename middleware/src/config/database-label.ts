// How a database is named to an operator: the engine and where it is (host, port, database), never the user or
// password the URL carries.
import type { AppConfig } from './load-config';

export function describeDatabase(database: AppConfig['database']): string {
  if (database.kind === 'pglite') return `embedded PGlite at ${database.dataDir}`;
  try {
    const url = new URL(database.url);
    const name = url.pathname.replace(/^\//, '') || '(default database)';
    return `PostgreSQL at ${url.hostname || 'localhost'}:${url.port || '5432'}/${name}`;
  } catch {
    return 'PostgreSQL (DATABASE_URL could not be read as a URL)';
  }
}

/** The database could not be opened at start: named, with where it is and what to check. */
export class DatabaseUnreachableError extends Error {
  constructor(database: AppConfig['database'], cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const hint = database.kind === 'postgres' ? 'check DATABASE_URL and that the server accepts connections' : 'is another process using this PGLITE_DATA_DIR? PGlite allows one process at a time';
    super(`the database (${describeDatabase(database)}) cannot be reached: ${reason}; ${hint}`, { cause });
    this.name = 'DatabaseUnreachableError';
  }
}
