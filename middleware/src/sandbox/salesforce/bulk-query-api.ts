// Bulk API 2.0 query jobs (Bulk API 2.0 and Bulk API Developer Guide, "Bulk API 2.0 Query"): create a job
// (POST /jobs/query, state UploadComplete), watch it (GET /jobs/query/{id}: UploadComplete, InProgress, then
// JobComplete, or Failed for a query that does not run), download its results as CSV (GET /jobs/query/{id}/results,
// only once JobComplete) in sets cut by maxRecords, each answer naming the next set in `Sforce-Locator` ("null"
// after the last) and its size in `Sforce-NumberOfRecords`; abort (PATCH state Aborted) and delete. Results must be
// read with the API version that created the job (409 otherwise). Every request is an ordinary REST call under
// /services/data, so it counts against DailyApiRequests like the others (the router's limit middleware). The query
// runs when the job is created (its results are that moment's data); the job moves one state per status read, so
// a client that downloads without waiting for JobComplete meets the documented refusal.
import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import type { OrgData } from './org-data';
import { SalesforceApiError, notFound } from './salesforce-errors';
import { keyPrefixes } from './salesforce-ids';
import { executeQuery } from './soql';
import type { FieldDef } from './sobject-schema';

type JobState = 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted';

interface QueryJob {
  id: string;
  object: string;
  createdById: string;
  createdDate: string;
  apiVersion: string;
  state: JobState;
  statusReads: number;
  /** CSV lines of the result rows (without the header), built when the job ran. */
  lines: string[];
  header: string;
  errorMessage: string | null;
}

/** Default and largest set size: the guide leaves the default to the service; this keeps answers bounded. */
const DEFAULT_MAX_RECORDS = 50_000;

const createJobSchema = z.object({
  operation: z.enum(['query', 'queryAll']),
  query: z.string().min(1),
  contentType: z.literal('CSV').optional(),
  columnDelimiter: z.literal('COMMA').optional(),
  lineEnding: z.enum(['LF', 'CRLF']).optional(),
});

/** Bulk CSV quotes every value; a null is an empty field. Datetimes are ISO 8601 in UTC with milliseconds. */
function csvValue(f: FieldDef | undefined, value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = f?.type === 'datetime' && typeof value === 'string' ? new Date(value).toISOString() : String(value);
  return `"${text.replace(/"/g, '""')}"`;
}

function jobInfo(job: QueryJob): Record<string, unknown> {
  const stamp = job.createdDate.replace(/Z$/, '+0000');
  return {
    id: job.id,
    operation: 'query',
    object: job.object,
    createdById: job.createdById,
    createdDate: stamp,
    systemModstamp: stamp,
    state: job.state,
    concurrencyMode: 'Parallel',
    contentType: 'CSV',
    apiVersion: Number(job.apiVersion),
    lineEnding: 'LF',
    columnDelimiter: 'COMMA',
    ...(job.state === 'JobComplete' || job.state === 'InProgress' ? { numberRecordsProcessed: job.state === 'JobComplete' ? job.lines.length : 0, retries: 0, totalProcessingTime: 0, jobType: 'V2Query' } : {}),
    ...(job.errorMessage !== null ? { errorMessage: job.errorMessage } : {}),
  };
}

export function bulkQueryRoutes(versioned: Router, deps: { org: OrgData; session: (res: Response) => { userId: string; version: string } }): void {
  const jobs = new Map<string, QueryJob>();
  const find = (req: Request): QueryJob => {
    const job = jobs.get(String(req.params.jobId));
    if (job === undefined) throw notFound();
    return job;
  };

  versioned.post('/jobs/query', (req, res) => {
    const parsed = createJobSchema.safeParse(req.body ?? {});
    if (!parsed.success) {
      res.status(400).json([{ errorCode: 'INVALIDJOB', message: z.prettifyError(parsed.error) }]);
      return;
    }
    const { userId, version } = deps.session(res);
    if (Number(version) < 47) throw notFound();
    // A malformed query is refused at creation (400 with the SOQL error), as the REST query resource does.
    const result = executeQuery(deps.org, parsed.data.query, userId);
    const id = deps.org.ids.next(keyPrefixes.AsyncApiJob);
    const lines = result.rows.map((row) => result.fields.map((f) => csvValue(f, row[f.name] ?? null)).join(','));
    const job: QueryJob = {
      id,
      object: result.type.name,
      createdById: userId,
      createdDate: deps.org.now().toISOString(),
      apiVersion: version,
      state: 'UploadComplete',
      statusReads: 0,
      lines,
      header: result.fields.map((f) => `"${f.name}"`).join(','),
      errorMessage: null,
    };
    jobs.set(id, job);
    res.status(200).json(jobInfo(job));
  });

  versioned.get('/jobs/query/:jobId', (req, res) => {
    const job = find(req);
    job.statusReads += 1;
    if (job.state === 'UploadComplete') job.state = 'InProgress';
    else if (job.state === 'InProgress') job.state = 'JobComplete';
    res.json(jobInfo(job));
  });

  versioned.get('/jobs/query/:jobId/results', (req, res) => {
    const job = find(req);
    if (deps.session(res).version !== job.apiVersion) {
      throw new SalesforceApiError(409, 'INVALIDJOBSTATE', `Use the API version the job was created with (${job.apiVersion})`);
    }
    if (job.state !== 'JobComplete') throw new SalesforceApiError(400, 'INVALIDJOBSTATE', `Job state is ${job.state}: results are available once the job is JobComplete`);
    const maxRecords = z.coerce.number().int().min(1).optional().safeParse(req.query.maxRecords);
    if (!maxRecords.success) throw new SalesforceApiError(400, 'INVALID_PARAMETER', 'maxRecords must be a positive integer');
    const locator = req.query.locator === undefined ? 0 : Number.parseInt(Buffer.from(String(req.query.locator), 'base64url').toString('utf8'), 10);
    if (!Number.isInteger(locator) || locator < 0 || locator > job.lines.length) throw new SalesforceApiError(400, 'INVALID_LOCATOR', 'Invalid locator');
    const size = Math.min(maxRecords.data ?? DEFAULT_MAX_RECORDS, DEFAULT_MAX_RECORDS);
    const slice = job.lines.slice(locator, locator + size);
    const next = locator + size < job.lines.length ? Buffer.from(String(locator + size), 'utf8').toString('base64url') : 'null';
    res.set('Sforce-Locator', next);
    res.set('Sforce-NumberOfRecords', String(slice.length));
    res.type('text/csv; charset=UTF-8');
    res.send([job.header, ...slice].join('\n') + '\n');
  });

  versioned.patch('/jobs/query/:jobId', (req, res) => {
    const job = find(req);
    const body = z.object({ state: z.literal('Aborted') }).safeParse(req.body ?? {});
    if (!body.success) throw new SalesforceApiError(400, 'INVALIDJOB', 'Only state Aborted can be set');
    if (job.state === 'JobComplete' || job.state === 'Failed') throw new SalesforceApiError(400, 'INVALIDJOBSTATE', `Job state is ${job.state}`);
    job.state = 'Aborted';
    res.json(jobInfo(job));
  });

  versioned.delete('/jobs/query/:jobId', (req, res) => {
    const job = find(req);
    jobs.delete(job.id);
    res.status(204).end();
  });
}
