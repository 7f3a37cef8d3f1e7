// The names of records Salesforce refused to write, read only then: a trigger's or Flow's refusal may name the
// person, and those names are stripped from the message before it reaches an audit entry, a dead letter or a log.
import { z } from 'zod';
import type { SalesforceRestClient } from './salesforce-rest';

const nameRowSchema = z.object({ Id: z.string(), FirstName: z.string().nullish(), LastName: z.string().nullish() }).loose();

/** FirstName and LastName of each record (Contact and Lead both have them), by the record's 15-character id. */
export async function readRecordNames(
  rest: Pick<SalesforceRestClient, 'query'>,
  records: readonly { objectName: 'Contact' | 'Lead'; id: string }[],
): Promise<Map<string, string[]>> {
  const names = new Map<string, string[]>();
  for (const objectName of ['Contact', 'Lead'] as const) {
    const ids = [...new Set(records.filter((r) => r.objectName === objectName).map((r) => r.id.replace(/[^A-Za-z0-9]/g, '')))];
    for (let i = 0; i < ids.length; i += 200) {
      const chunk = ids.slice(i, i + 200).map((id) => `'${id}'`);
      const rows = await rest.query(`SELECT Id, FirstName, LastName FROM ${objectName} WHERE Id IN (${chunk.join(',')})`, nameRowSchema);
      for (const row of rows) {
        const parts = [row.FirstName, row.LastName].filter((p): p is string => typeof p === 'string' && p.trim().length > 0);
        const full = parts.join(' ');
        // The full name, each part, and each word of a part ("Mary Ann" as a FirstName).
        names.set(row.Id.slice(0, 15), [full, ...parts, ...parts.flatMap((p) => p.split(/\s+/))]);
      }
    }
  }
  return names;
}
