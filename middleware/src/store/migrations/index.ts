// Versioned schema migrations. Append only: a released migration is never edited, a change is a new version.
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
-- Where each CometD channel resumes. Replay ids are opaque and not contiguous (DESIGN §4): stored as text.
-- An enriched custom channel delivers one message per record of a change, all with the same replay id (CDC guide,
-- "Event Enrichment Considerations"); resuming from that id would skip the records not yet handled. So the resume
-- point is the previous distinct id, and the group being handled is replayed after a crash (work is idempotent).
CREATE TABLE replay_checkpoints (
  channel         text PRIMARY KEY,
  replay_id       text,
  last_seen_id    text NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Windows in which events may have been missed (expired replay id, GAP_OVERFLOW); reconciled by SOQL.
CREATE TABLE stream_gaps (
  id             bigserial PRIMARY KEY,
  channel        text NOT NULL,
  reason         text NOT NULL,
  lost_replay_id text,
  since          timestamptz,
  detected_at    timestamptz NOT NULL DEFAULT now(),
  reconciled_at  timestamptz
);

-- Poller position: contacts updated after cursor_at (minus an overlap), then by id.
CREATE TABLE poll_cursors (
  name        text PRIMARY KEY,
  cursor_at   timestamptz NOT NULL,
  cursor_id   text,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Last ActiveCampaign state seen per contact, the base of the reverse path's change detector.
CREATE TABLE ac_contact_snapshots (
  ac_contact_id  text PRIMARY KEY,
  email_norm     text NOT NULL,
  list_statuses  jsonb NOT NULL,
  hard_bounced   boolean NOT NULL,
  ac_updated_at  timestamptz,
  seen_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ac_contact_snapshots_email ON ac_contact_snapshots (email_norm);

-- Salesforce record <-> ActiveCampaign contact, learnt on both paths.
CREATE TABLE sf_ac_links (
  sf_record_id   text PRIMARY KEY,
  sf_object      text NOT NULL,
  email_norm     text NOT NULL,
  ac_contact_id  text,
  -- Newest opt-out value seen from Salesforce for this record and its commit time: R5's recency rule compares an
  -- ActiveCampaign subscribe with it.
  opted_out           boolean,
  opt_out_changed_at  timestamptz,
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sf_ac_links_email ON sf_ac_links (email_norm);

-- Lists this product unsubscribed and their previous status: what R2's resubscribe option may undo, and nothing else.
CREATE TABLE lists_unsubscribed_by_us (
  ac_contact_id    text NOT NULL,
  list_id          text NOT NULL,
  email_norm       text NOT NULL,
  previous_status  integer NOT NULL,
  unsubscribed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (ac_contact_id, list_id)
);

-- Work queue: one queued job per (kind, subject); a newer change merges into the queued one (supersedes).
CREATE TABLE jobs (
  id            bigserial PRIMARY KEY,
  kind          text NOT NULL,
  subject       text NOT NULL,
  payload       jsonb NOT NULL,
  state         text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done')),
  attempts      integer NOT NULL DEFAULT 0,
  run_after     timestamptz NOT NULL DEFAULT now(),
  locked_by     text,
  locked_until  timestamptz,
  last_error    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX jobs_one_queued_per_subject ON jobs (kind, subject) WHERE state = 'queued';
CREATE INDEX jobs_ready ON jobs (kind, run_after) WHERE state = 'queued';
CREATE INDEX jobs_running_subject ON jobs (kind, subject) WHERE state = 'running';

CREATE TABLE dead_letters (
  id           bigserial PRIMARY KEY,
  job_id       bigint NOT NULL,
  kind         text NOT NULL,
  subject      text NOT NULL,
  payload      jsonb NOT NULL,
  attempts     integer NOT NULL,
  last_error   text NOT NULL,
  failed_at    timestamptz NOT NULL DEFAULT now(),
  retried_at   timestamptz
);

-- R8: every decision, both directions.
CREATE TABLE audit_log (
  id            bigserial PRIMARY KEY,
  occurred_at   timestamptz NOT NULL DEFAULT now(),
  direction     text NOT NULL CHECK (direction IN ('sf_to_ac', 'ac_to_sf', 'internal')),
  email_norm    text,
  record_id     text,
  ac_contact_id text,
  old_value     text,
  new_value     text,
  decision      text NOT NULL,
  reason        text NOT NULL,
  result        text NOT NULL,
  correlation   jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_email ON audit_log (email_norm, occurred_at);
CREATE INDEX audit_log_time ON audit_log (occurred_at);

-- Input that failed validation, kept with its reason so nothing is silently dropped.
CREATE TABLE quarantine (
  id           bigserial PRIMARY KEY,
  source       text NOT NULL,
  reason       text NOT NULL,
  raw          text NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now()
);

-- Webhook deliveries are stored before the 200 reply (AC never retries); processed asynchronously.
CREATE TABLE webhook_inbox (
  id            bigserial PRIMARY KEY,
  dedupe_key    text NOT NULL UNIQUE,
  payload       jsonb NOT NULL,
  received_at   timestamptz NOT NULL DEFAULT now(),
  processed_at  timestamptz
);
CREATE INDEX webhook_inbox_pending ON webhook_inbox (id) WHERE processed_at IS NULL;

-- Leadership: exactly one instance holds the stream subscription and the poller. A lease with an expiry (rather
-- than a session advisory lock) works on PGlite and PostgreSQL alike and frees itself when the holder dies.
CREATE TABLE leases (
  name        text PRIMARY KEY,
  holder      text NOT NULL,
  expires_at  timestamptz NOT NULL
);

-- ActiveCampaign's rate limit belongs to the account: instances on one PostgreSQL reserve request slots here.
CREATE TABLE request_budgets (
  name       text PRIMARY KEY,
  next_slot  timestamptz NOT NULL
);

-- Key/value state that is not worth a table (first-run markers, cached settings).
CREATE TABLE kv_state (
  key         text PRIMARY KEY,
  value       jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
`,
  },
  {
    version: 2,
    name: 'how far the stream and our own writes explain each Salesforce record',
    sql: `
-- The pull path compares a record's LastModifiedDate with everything we know of it: a modification newer than the
-- last change the stream delivered for the record (any field) and than our own last write may carry an opt-out
-- change the stream has not delivered yet.
ALTER TABLE sf_ac_links ADD COLUMN written_at timestamptz;
ALTER TABLE sf_ac_links ADD COLUMN stream_seen_at timestamptz;
`,
  },
  {
    version: 3,
    name: 'the newest unsubscribe date a contact snapshot knew',
    sql: `
-- The newest list udate among the lists a contact had left when the snapshot was taken: a later read that shows a
-- newer one saw a fresh unsubscribe even when both read "unsubscribed from all". NULL for snapshots taken before.
ALTER TABLE ac_contact_snapshots ADD COLUMN last_unsubscribed_at timestamptz;
`,
  },
  {
    version: 4,
    name: 'the full reconciliation keeps its Salesforce read in the store',
    sql: `
-- The full reconciliation reads every Salesforce record before it pages through ActiveCampaign. 100,000 records do
-- not fit the process's small heap (production runs with --max-old-space-size=80): they wait here, keyed by the
-- pass, and each AC page looks its 100 emails up. Rows of a pass are deleted when it ends (or by the next pass).
CREATE TABLE reconcile_sf_records (
  pass_id       text NOT NULL,
  record_id     text NOT NULL,
  email_norm    text NOT NULL,
  object_name   text NOT NULL,
  opted_out     boolean NOT NULL,
  last_modified timestamptz NOT NULL,
  PRIMARY KEY (pass_id, record_id)
);
CREATE INDEX reconcile_sf_records_email ON reconcile_sf_records (pass_id, email_norm);
`,
  },
  {
    version: 5,
    name: 'a re-subscribe waiting to learn who made it',
    sql: `
-- R5 counts a re-subscribe only when a webhook delivery says who made it (initiated_from). A read (a poll) may see
-- the subscribe before its delivery is processed: the subscribe waits here ({"at": sdate, "lists": [...]}) until a
-- delivery names its source, or the lists it concerned are left again. NULL: nothing waits.
ALTER TABLE ac_contact_snapshots ADD COLUMN awaiting_subscribe jsonb;
`,
  },
  {
    version: 6,
    name: 'the oldest pending opt-out without a scan of every job',
    sql: `
-- /readyz, the status page and the oldest-opt-out metric ask for the oldest job that still carries an opt-out.
-- During a week-long outage the queue holds the whole backlog: without these it was a scan of every job's JSON.
CREATE INDEX jobs_push_optout_pending ON jobs (created_at) WHERE kind = 'push-email' AND (payload ->> 'optOutPending') = 'true';
CREATE INDEX jobs_pull_optout ON jobs (created_at) WHERE kind = 'pull-email' AND (payload ->> 'optOut') = 'true';
`,
  },
  {
    version: 7,
    name: 'when a channel last subscribed with no checkpoint',
    sql: `
-- A run stopped before a channel's first event stores no checkpoint, and the next start subscribes at -1 (new events
-- only) again: what changed while it was down is reconciled from the last such subscription (app/event-stream.ts).
CREATE TABLE uncheckpointed_subscribes (
  channel        text PRIMARY KEY,
  subscribed_at  timestamptz NOT NULL
);
`,
  },
  {
    version: 8,
    name: 'when a list was last joined, when a record last moved',
    sql: `
-- The bulk import sets every list it names to 2 and cannot tell when each was joined: a contact that joined a list
-- after the opt-out takes the single path (workers/push-worker.ts). seen_at says only when the state was last read
-- (every poll and reconciliation re-reads it), so it cannot say that; this is stamped only when a read shows a list
-- active (0 or 1) that the previous snapshot did not. A row that has an active list now counts as joined when it
-- was last read (a join seen before this column came would otherwise be forgotten during a backlog). And
-- last_subscribed_at: the newest subscribe date AC gave for a list the contact is on, which also catches a leave and
-- re-join between two reads.
ALTER TABLE ac_contact_snapshots ADD COLUMN joined_seen_at timestamptz;
ALTER TABLE ac_contact_snapshots ADD COLUMN last_subscribed_at timestamptz;
UPDATE ac_contact_snapshots SET joined_seen_at = seen_at
 WHERE EXISTS (SELECT 1 FROM jsonb_each_text(list_statuses) AS n WHERE n.value IN ('0', '1'));
-- The commit time of the last Email change queued for a record (R1 for its new address): the stream resumes one
-- event back after a restart, and a replayed move must not be queued again (workers/salesforce-intake.ts).
ALTER TABLE sf_ac_links ADD COLUMN email_changed_at timestamptz;
`,
  },
];
