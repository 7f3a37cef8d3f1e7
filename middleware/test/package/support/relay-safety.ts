// Static checks of the CDC relay (OptOutChangeEventHandler.cls) for the ways a relay loses opt-outs that a review
// found once and that no Apex test can run here to catch: a rethrow that discards a batch, retries past the
// platform's limit, no resume checkpoint, an all-or-nothing publish, and Id.valueOf on header record ids (which
// may be wildcards such as `003*`). Returns the problems as sentences; an empty list means none was found.
import fs from 'node:fs';
import path from 'node:path';
import { classesDir } from './project-copy';

/** Apex governor limit: DML rows per transaction (a published event is one, a gap row another). */
const DML_ROWS_PER_TRANSACTION = 10_000;

/** The platform runs a change-event trigger at most nine times again; after that it moves to the error state. */
export const platformRetryLimit = 9;

/** Source without comments and string literals, so that words in either never count as code. */
function codeOnly(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/\/\/[^\n]*/g, ' ')
    .replace(/'(?:\\.|[^'\\])*'/g, "''");
}

export function findRelaySafetyProblems(projectDir: string): string[] {
  const file = path.join(projectDir, classesDir, 'OptOutChangeEventHandler.cls');
  const source = fs.readFileSync(file, 'utf8');
  const code = codeOnly(source);
  const problems: string[] = [];

  const maxRetries = /MAX_RETRIES\s*=\s*(\d+)\s*;/.exec(code);
  if (maxRetries === null) {
    problems.push('MAX_RETRIES: not declared as a number');
  } else if (Number(maxRetries[1]) >= platformRetryLimit) {
    problems.push(`MAX_RETRIES ${maxRetries[1]}: the platform stops the trigger after ${platformRetryLimit} retries`);
  }

  // Every throw is a retry, and every retry is guarded by the retry count.
  for (const match of code.matchAll(/\bthrow\s+([^;]+);/g)) {
    const thrown = match[1]?.trim() ?? '';
    if (!thrown.startsWith('new EventBus.RetryableException(')) {
      problems.push(`throw ${thrown.slice(0, 60)}: discards the batch (only EventBus.RetryableException may leave)`);
    }
  }
  const retryGuards = code.match(/currentRetries\(\)\s*<\s*MAX_RETRIES/g) ?? [];
  const retries = code.match(/throw\s+new\s+EventBus\.RetryableException/g) ?? [];
  if (retries.length > retryGuards.length) {
    problems.push(`${retries.length} RetryableException throws but ${retryGuards.length} retry-count guards`);
  }

  if (!/\.setResumeCheckpoint\(/.test(code)) {
    problems.push('setResumeCheckpoint: never called, so a cut batch or an exception replays what was relayed');
  }
  if (!/OptOutEventPublisher\.publishEach\(relay\.events\)/.test(code)) {
    problems.push('publishEach: not used, so one refused event fails every other event of the batch');
  }
  if (/OptOutEventPublisher\.publish\(/.test(code)) {
    problems.push('OptOutEventPublisher.publish: raises on one refusal, which loses the batch');
  }
  if (!/\breconcileWhatTheAuditRefused\(lost\)/.test(code)) {
    problems.push('reconcileWhatTheAuditRefused: not called, so a gap row the audit object refuses after the last retry loses its opt-out');
  }
  const cap = /MAX_EVENTS_PER_RUN\s*=\s*(\d+)\s*;/.exec(code);
  if (cap === null) {
    problems.push('MAX_EVENTS_PER_RUN: no cap on the events one run publishes (10,000 DML rows per transaction)');
  } else {
    // On the last retry a run publishes its events, has each refused and writes a gap row for each, plus its
    // RELAY_ERROR rows and up to two whole-object reconcile events: all DML rows of one transaction.
    const problemRows = Number(/MAX_PROBLEM_ROWS\s*=\s*(\d+)\s*;/.exec(code)?.[1] ?? Number.POSITIVE_INFINITY);
    const worst = 2 * Number(cap[1]) + problemRows + 2;
    if (worst > DML_ROWS_PER_TRANSACTION) {
      problems.push(`DML rows: a run that must record every event as a gap needs up to ${worst}, over the ${DML_ROWS_PER_TRANSACTION} of one transaction (an uncatchable limit exception loses the batch)`);
    }
  }

  // Header record ids reach Id.valueOf only inside toId's try block.
  const toIdStart = code.indexOf('private static Id toId(String recordId)');
  const tryStart = code.indexOf('try {', toIdStart);
  const catchStart = code.indexOf('catch (StringException', tryStart);
  for (const match of code.matchAll(/Id\.valueOf\(([^)]*)\)/g)) {
    const argument = match[1]?.trim() ?? '';
    const inToId = toIdStart >= 0 && tryStart >= 0 && match.index > tryStart && match.index < catchStart;
    if (!inToId && !argument.endsWith('.Record_Id__c')) {
      problems.push(`Id.valueOf(${argument}): a wildcard record id such as 003* would throw outside toId`);
    }
  }
  return problems;
}
