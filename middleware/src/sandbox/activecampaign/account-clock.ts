// AC writes `cdate`/`udate` in the account's own time zone with its UTC offset ("2026-05-28T03:05:54-05:00") and
// naive local wall-clock strings in `*_timestamp` fields (research/activecampaign-api.md §2, "Timezone gotcha").
// Everything here is second precision, like AC.

const OFFSET_PATTERN = /^([+-])(\d{2}):(\d{2})$/;

export function parseUtcOffset(offset: string): number {
  const match = OFFSET_PATTERN.exec(offset);
  if (!match) throw new Error(`utcOffset must look like "-05:00", got "${offset}"`);
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  return match[1] === '-' ? -minutes : minutes;
}

function pad(value: number): string {
  return String(value).padStart(2, '0');
}

function localParts(instant: Date, offsetMinutes: number): { date: string; time: string } {
  const shifted = new Date(instant.getTime() + offsetMinutes * 60_000);
  const date = `${shifted.getUTCFullYear()}-${pad(shifted.getUTCMonth() + 1)}-${pad(shifted.getUTCDate())}`;
  const time = `${pad(shifted.getUTCHours())}:${pad(shifted.getUTCMinutes())}:${pad(shifted.getUTCSeconds())}`;
  return { date, time };
}

export class AccountClock {
  readonly offsetMinutes: number;

  constructor(
    readonly utcOffset: string,
    private readonly now: () => Date,
  ) {
    this.offsetMinutes = parseUtcOffset(utcOffset);
  }

  current(): Date {
    // AC stores whole seconds; truncating here keeps filters and ordering consistent with what clients see.
    const ms = this.now().getTime();
    return new Date(ms - (((ms % 1000) + 1000) % 1000));
  }

  /** "2026-11-23T01:02:03-05:00" */
  iso(instant: Date): string {
    const { date, time } = localParts(instant, this.offsetMinutes);
    return `${date}T${time}${this.utcOffset}`;
  }

  /** "2026-11-23 01:02:03" (naive local time, as in created_timestamp) */
  naive(instant: Date): string {
    const { date, time } = localParts(instant, this.offsetMinutes);
    return `${date} ${time}`;
  }

  /** "2026-11-23" in the account's zone (bounced_date, bulk-import forDate) */
  day(instant: Date): string {
    return localParts(instant, this.offsetMinutes).date;
  }

  /**
   * Reads a filter value. The spec types `filters[updated_after]` as a date, AC's own recipe sends "2022-08-01",
   * and Nango sends a full ISO timestamp: a value without an offset is read in the account's zone.
   */
  parseFilterDate(value: string): Date | undefined {
    const trimmed = value.trim();
    const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(trimmed);
    const hasZone = /(Z|[+-]\d{2}:?\d{2})$/.test(trimmed);
    const text = dateOnly
      ? `${trimmed}T00:00:00${this.utcOffset}`
      : hasZone
        ? trimmed
        : `${trimmed.replace(' ', 'T')}${this.utcOffset}`;
    const parsed = new Date(text);
    return Number.isNaN(parsed.getTime()) ? undefined : parsed;
  }
}
