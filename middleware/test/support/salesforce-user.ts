// Acts as a person editing Salesforce through the REST API (a user other than the integration user, no client tag).
import type { SalesforceEmulator } from '../../src/sandbox/salesforce';

export async function patchRecord(sf: SalesforceEmulator, type: string, id: string, fields: Record<string, unknown>): Promise<void> {
  const token = sf.issueToken(sf.users.admin.id);
  const response = await fetch(`${sf.url}/services/data/v${sf.apiVersion}/sobjects/${type}/${id}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(fields),
  });
  if (response.status !== 204) throw new Error(`PATCH ${type}/${id} answered ${response.status}: ${await response.text()}`);
}

export async function patchCollection(sf: SalesforceEmulator, records: { type: string; id: string; fields: Record<string, unknown> }[]): Promise<void> {
  const token = sf.issueToken(sf.users.admin.id);
  for (let i = 0; i < records.length; i += 200) {
    const response = await fetch(`${sf.url}/services/data/v${sf.apiVersion}/composite/sobjects`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ allOrNone: false, records: records.slice(i, i + 200).map((r) => ({ attributes: { type: r.type }, Id: r.id, ...r.fields })) }),
    });
    if (response.status !== 200) throw new Error(`collections PATCH answered ${response.status}: ${await response.text()}`);
  }
}
