// Gate: the CDC relay keeps the properties that stop it from losing opt-outs (docs/PACKAGE.md, "Relay"). The Apex
// tests prove the behaviour in an org; this gate catches a regression offline, before anything is deployed.
import fs from 'node:fs';
import path from 'node:path';
import { findRelaySafetyProblems } from './support/relay-safety';
import { classesDir, copyProject, editFile, removeProject, replaceOnce, repoRoot } from './support/project-copy';

const handler = path.join(classesDir, 'OptOutChangeEventHandler.cls');
const handlerTest = path.join(classesDir, 'OptOutChangeEventHandlerTest.cls');

describe('CDC relay safety', () => {
  const copies: string[] = [];
  afterAll(() => copies.forEach(removeProject));

  function brokenCopy(edit: (source: string) => string): string {
    const copy = copyProject();
    copies.push(copy);
    editFile(copy, handler, edit);
    return copy;
  }

  test('when the relay is read, then it has none of the known ways to lose a batch', () => {
    expect(findRelaySafetyProblems(repoRoot)).toEqual([]);
  });

  test('when the relay rethrows after its retries, then the gate reports the discarded batch', () => {
    const copy = brokenCopy(
      replaceOnce(
        'writeAudit(relay.problems, refusals);',
        "if (!refusals.isEmpty()) { throw new OptOutSyncException('refused'); }\n        writeAudit(relay.problems, refusals);",
      ),
    );
    expect(findRelaySafetyProblems(copy)).toEqual([
      "throw new OptOutSyncException(''): discards the batch (only EventBus.RetryableException may leave)",
    ]);
  });

  test('when the relay would retry nine times, then the gate reports the platform limit', () => {
    const copy = brokenCopy(replaceOnce('MAX_RETRIES = 8;', 'MAX_RETRIES = 9;'));
    expect(findRelaySafetyProblems(copy)).toEqual([
      'MAX_RETRIES 9: the platform stops the trigger after 9 retries',
    ]);
  });

  test('when header record ids reach Id.valueOf directly, then the gate reports the wildcard crash', () => {
    const copy = brokenCopy(replaceOnce('Id parsed = toId(recordId);', 'Id parsed = Id.valueOf(recordId);'));
    expect(findRelaySafetyProblems(copy)).toEqual([
      'Id.valueOf(recordId): a wildcard record id such as 003* would throw outside toId',
    ]);
  });

  test('when the checkpoint and the per-event publish go, then the gate reports both', () => {
    const copy = brokenCopy((source) =>
      source
        .replace('EventBus.TriggerContext.currentContext().setResumeCheckpoint(replayId);', 'lastCheckpoint = null;')
        .replace('OptOutEventPublisher.publishEach(relay.events)', 'new List<OptOutEventPublisher.Refusal>()'),
    );
    expect(findRelaySafetyProblems(copy)).toEqual([
      'setResumeCheckpoint: never called, so a cut batch or an exception replays what was relayed',
      'publishEach: not used, so one refused event fails every other event of the batch',
    ]);
  });

  test('when a gap row the audit refuses after the last retry is dropped silently, then the gate reports the lost opt-out', () => {
    const copy = brokenCopy(replaceOnce('reconcileWhatTheAuditRefused(lost);', ''));
    expect(findRelaySafetyProblems(copy)).toEqual([
      'reconcileWhatTheAuditRefused: not called, so a gap row the audit object refuses after the last retry loses its opt-out',
    ]);
  });

  test('when a run could need more DML rows than a transaction has to record its gaps, then the gate reports it', () => {
    const copy = brokenCopy(replaceOnce('MAX_EVENTS_PER_RUN = 4900;', 'MAX_EVENTS_PER_RUN = 5000;'));
    expect(findRelaySafetyProblems(copy)).toEqual([
      'DML rows: a run that must record every event as a gap needs up to 10052, over the 10000 of one transaction (an uncatchable limit exception loses the batch)',
    ]);
  });

  test('when the Apex tests are read, then each way of losing an opt-out has its test', () => {
    const source = fs.readFileSync(path.join(repoRoot, handlerTest), 'utf8');
    const tests = [...source.matchAll(/@IsTest\s+static void (\w+)\(/g)].map((m) => m[1]);
    expect(tests).toEqual(
      expect.arrayContaining([
        'letsThePlatformRetryWhenTheBusRefusesForNow',
        'recordsAGapInsteadOfRetryingPastThePlatformLimit',
        'recordsAGapAtOnceForAnEventTheBusWillNeverAccept',
        'relaysAWildcardRecordIdAsAReconcileOfTheObjectWithoutFailingTheBatch',
        'reconcilesTheObjectAndTellsTheAdminWhenTheOptOutFieldIsNotACheckbox',
        'cutsABatchAtThePublishCapAndLeavesTheRestToTheNextRun',
        'relaysTheNewEmailOfAnOptedOutRecord',
        'skipsChangesMadeByTheIntegrationUser',
        'reconcilesEveryObjectOfTheBatchWhenSomethingUnexpectedFails',
        'reconcilesTheObjectWhenTheAuditRefusesTheGapRowAfterTheLastRetry',
      ]),
    );
  });
});
