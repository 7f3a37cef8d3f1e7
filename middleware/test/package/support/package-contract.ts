// The contract between middleware/src/salesforce/package-names.ts and force-app's XML, checked both ways: every
// name the middleware uses exists in the package, and every field the package defines on those objects is known
// to the middleware. Returns the mismatches as sentences; an empty list means they agree.
import fs from 'node:fs';
import path from 'node:path';
import {
  acStatusValues,
  auditObject,
  cdcChannel,
  optOutEvent,
  optOutSourceValues,
  permissionSets,
  settingsType,
  syncedObjects,
  syncStateFields,
} from '../../../src/salesforce/package-names';
import {
  listPermissionSets,
  readChannelMembers,
  readChannels,
  readCustomMetadataRecords,
  readObject,
  readObjectFields,
} from './force-app-metadata';

function compareSets(what: string, middleware: readonly string[], xml: readonly string[]): string[] {
  const name = (n: string) => (what.endsWith('.') ? `${what}${n}` : `${what} ${n}`);
  const inXml = new Set(xml);
  const inMiddleware = new Set(middleware);
  return [
    ...[...inMiddleware].filter((n) => !inXml.has(n)).map((n) => `${name(n)}: in package-names.ts, not in force-app`),
    ...[...inXml].filter((n) => !inMiddleware.has(n)).map((n) => `${name(n)}: in force-app, not in package-names.ts`),
  ];
}

function fieldNames(projectDir: string, objectName: string): string[] {
  return readObjectFields(projectDir, objectName).map((f) => f.name);
}

function picklist(projectDir: string, objectName: string, field: string): string[] {
  return readObjectFields(projectDir, objectName).find((f) => f.name === field)?.picklistValues ?? [];
}

/** Source__c values the Apex publisher writes (constants SOURCE_* in OptOutEventPublisher.cls). */
function apexEventSources(projectDir: string): string[] {
  const file = path.join(projectDir, 'force-app', 'main', 'default', 'classes', 'OptOutEventPublisher.cls');
  const source = fs.readFileSync(file, 'utf8');
  return [...source.matchAll(/String\s+SOURCE_\w+\s*=\s*'([^']+)'/g)].map((m) => m[1] ?? '');
}

export function findContractMismatches(projectDir: string): string[] {
  const problems: string[] = [];

  // Platform Event (DESIGN §3: high volume, published after commit).
  const event = readObject(projectDir, optOutEvent.apiName);
  if (!event) {
    problems.push(`event ${optOutEvent.apiName}: missing from force-app`);
  } else {
    if (event.eventType !== 'HighVolume') problems.push(`event ${optOutEvent.apiName}: eventType is not HighVolume`);
    if (event.publishBehavior !== 'PublishAfterCommit') {
      problems.push(`event ${optOutEvent.apiName}: publishBehavior is not PublishAfterCommit`);
    }
  }
  problems.push(
    ...compareSets(
      `field ${optOutEvent.apiName}.`,
      Object.values(optOutEvent.fields),
      fieldNames(projectDir, optOutEvent.apiName),
    ),
  );
  problems.push(...compareSets('event source', optOutEvent.sources, apexEventSources(projectDir)));

  // CDC channel and its members.
  const channels = readChannels(projectDir);
  const channel = channels.find((c) => c.name === cdcChannel.apiName);
  if (!channel) {
    problems.push(`channel ${cdcChannel.apiName}: missing from force-app`);
  } else if (channel.channelType !== 'data') {
    problems.push(`channel ${cdcChannel.apiName}: channelType is not data`);
  }
  if (channels.some((c) => c.name === 'ChangeEvents')) {
    problems.push('channel ChangeEvents: the standard channel must not be shipped, only its members');
  }
  const members = readChannelMembers(projectDir);
  const customMembers = members.filter((m) => m.eventChannel === cdcChannel.apiName);
  problems.push(
    ...compareSets(
      'channel member',
      cdcChannel.members,
      customMembers.map((m) => m.name),
    ),
  );
  for (const member of customMembers) {
    problems.push(
      ...compareSets(`enriched field of ${member.name}:`, cdcChannel.enrichedFields, member.enrichedFields),
    );
  }
  for (const objectName of syncedObjects) {
    const entity = `${objectName}ChangeEvent`;
    if (!customMembers.some((m) => m.selectedEntity === entity)) {
      problems.push(`channel member for ${entity} on ${cdcChannel.apiName}: missing`);
    }
    // The Apex relay triggers subscribe on the standard channel, which needs its own member (CDC guide).
    if (!members.some((m) => m.eventChannel === 'ChangeEvents' && m.selectedEntity === entity)) {
      problems.push(`channel member for ${entity} on ChangeEvents: missing`);
    }
  }

  // Sync-state fields on Contact and Lead, with their picklist values.
  for (const objectName of syncedObjects) {
    problems.push(
      ...compareSets(`field ${objectName}.`, Object.values(syncStateFields), fieldNames(projectDir, objectName)),
    );
    problems.push(
      ...compareSets(
        `${objectName}.${syncStateFields.acStatus} value`,
        acStatusValues,
        picklist(projectDir, objectName, syncStateFields.acStatus),
      ),
    );
    problems.push(
      ...compareSets(
        `${objectName}.${syncStateFields.optOutSource} value`,
        optOutSourceValues,
        picklist(projectDir, objectName, syncStateFields.optOutSource),
      ),
    );
  }

  // Settings type, its values and its default record.
  if (!readObject(projectDir, settingsType.apiName)) {
    problems.push(`custom metadata type ${settingsType.apiName}: missing from force-app`);
  }
  problems.push(
    ...compareSets(
      `field ${settingsType.apiName}.`,
      Object.values(settingsType.fields),
      fieldNames(projectDir, settingsType.apiName),
    ),
  );
  problems.push(
    ...compareSets(
      `${settingsType.apiName}.${settingsType.fields.eventMode} value`,
      settingsType.eventModes,
      picklist(projectDir, settingsType.apiName, settingsType.fields.eventMode),
    ),
  );
  problems.push(
    ...compareSets(
      `${settingsType.apiName}.${settingsType.fields.auditLevel} value`,
      settingsType.auditLevels,
      picklist(projectDir, settingsType.apiName, settingsType.fields.auditLevel),
    ),
  );
  // A shipped record is overwritten by every upgrade of an unlocked package and by every deploy (Salesforce DX
  // Developer Guide, "Upgrade a Version of an Unlocked Package"): the admin creates it, the code holds the defaults.
  for (const record of readCustomMetadataRecords(projectDir).filter((r) => r.type === settingsType.apiName)) {
    problems.push(`settings record ${record.record}: shipped in force-app, so an upgrade would overwrite the admin's`);
  }

  // Audit object.
  const audit = readObject(projectDir, auditObject.apiName);
  if (!audit) {
    problems.push(`object ${auditObject.apiName}: missing from force-app`);
  } else if (audit.enableReports !== true) {
    problems.push(`object ${auditObject.apiName}: enableReports is not true (admins report on it)`);
  }
  problems.push(
    ...compareSets(
      `field ${auditObject.apiName}.`,
      Object.values(auditObject.fields),
      fieldNames(projectDir, auditObject.apiName),
    ),
  );

  // Permission sets.
  problems.push(...compareSets('permission set', Object.values(permissionSets), listPermissionSets(projectDir)));
  return problems;
}
