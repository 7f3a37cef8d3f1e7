// Printing and small statistics shared by the benches: a readable table first, the JSON line last.

/** Nearest-rank percentile (p in 0..100) of unsorted samples. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? NaN;
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export type Row = [label: string, value: string | number, note?: string];

export function printTable(title: string, rows: Row[]): void {
  const width = Math.max(...rows.map((r) => r[0].length));
  const valueWidth = Math.max(...rows.map((r) => String(r[1]).length));
  console.log(`\n${title}`);
  console.log('-'.repeat(Math.min(100, title.length)));
  for (const [label, value, note] of rows) console.log(`${label.padEnd(width)}  ${String(value).padStart(valueWidth)}${note ? `  ${note}` : ''}`);
}

/** Progress for a person watching; goes to stderr so that stdout stays the table and the JSON line. */
export function progress(message: string): void {
  console.error(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
}

export function elapsedSeconds(fromMs: number, toMs = Date.now()): number {
  return (toMs - fromMs) / 1000;
}
