// What the CLI prints: short lines for people, never secrets. Commands receive a Terminal rather than writing to
// process.stdout themselves, so that a command's output can be followed in one place.
export interface Terminal {
  /** A line on stdout. */
  say(line?: string): void;
  /** A line on stderr (problems). */
  warn(line: string): void;
}

export const processTerminal: Terminal = {
  say: (line = '') => void process.stdout.write(`${line}\n`),
  warn: (line) => void process.stderr.write(`${line}\n`),
};

/** A fixed-width text table: headers, then one row per item; long cells are cut with an ellipsis. */
export function formatTable(headers: string[], rows: string[][], maxCell = 60): string[] {
  const cut = (cell: string) => (cell.length > maxCell ? `${cell.slice(0, maxCell - 1)}…` : cell);
  const cells = [headers, ...rows].map((row) => row.map(cut));
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const render = (row: string[]) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [render(cells[0] ?? []), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(render)];
}

/** Removes every configured secret from a message before it is shown (error texts may quote URLs or bodies). */
export function withoutSecrets(message: string, secrets: readonly string[]): string {
  let out = message;
  for (const secret of [...secrets].filter((s) => s.length >= 6).sort((a, b) => b.length - a.length)) out = out.split(secret).join('[REDACTED]');
  return out;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
