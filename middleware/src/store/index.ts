// The store: every durable table behind one object, so the app opens the database once and passes this around.
import type { Database } from './database';
import type { Clock } from './clock';
import { migrate } from './migrate';
import { JobQueue } from './job-queue';
import { ReplayCheckpointStore } from './replay-checkpoint-store';
import { AuditLog } from './audit-log';
import { QuarantineStore } from './quarantine-store';
import { AcSnapshotStore } from './ac-snapshot-store';
import { UnsubscribedListsStore } from './unsubscribed-lists-store';
import { KvStore } from './kv-store';
import { PollCursorStore } from './poll-cursor-store';
import { WebhookInbox } from './webhook-inbox';
import { SfLinkStore } from './sf-link-store';
import { LeaseStore } from './lease-store';

export interface Store {
  db: Database;
  jobs: JobQueue;
  replay: ReplayCheckpointStore;
  audit: AuditLog;
  quarantine: QuarantineStore;
  snapshots: AcSnapshotStore;
  unsubscribedLists: UnsubscribedListsStore;
  kv: KvStore;
  cursors: PollCursorStore;
  webhookInbox: WebhookInbox;
  links: SfLinkStore;
  leases: LeaseStore;
}

export async function createStore(db: Database, clock: Clock, workerId: string): Promise<Store> {
  await migrate(db);
  return {
    db,
    jobs: new JobQueue(db, clock, workerId),
    replay: new ReplayCheckpointStore(db, clock),
    audit: new AuditLog(db, clock),
    quarantine: new QuarantineStore(db, clock),
    snapshots: new AcSnapshotStore(db, clock),
    unsubscribedLists: new UnsubscribedListsStore(db, clock),
    kv: new KvStore(db, clock),
    cursors: new PollCursorStore(db, clock),
    webhookInbox: new WebhookInbox(db, clock),
    links: new SfLinkStore(db, clock),
    leases: new LeaseStore(db, clock, workerId),
  };
}

export type { Database, SqlExecutor } from './database';
export { openDatabase } from './database';
