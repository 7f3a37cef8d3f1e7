// Gate: a Lead conversion keeps the package's fields and, above all, the opt-out, without anything that replaces the
// customer's own configuration (an org-wide LeadConvertSettings mapping). The Apex tests prove the behaviour in an
// org; this gate catches offline that the trigger, the refusal and their tests are still there.
import fs from 'node:fs';
import path from 'node:path';
import { brokenCopies, classesDir, editFile, listFiles, replaceOnce, repoRoot } from './support/project-copy';

const triggersDir = path.join('force-app', 'main', 'default', 'triggers');
const conversionClass = path.join(classesDir, 'OptOutLeadConversion.cls');
const handlerClass = path.join(classesDir, 'OptOutLeadTriggerHandler.cls');

/** Source without comments and string literals, so that words in either never count as code. */
function codeOnly(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/\/\/[^\n]*/g, ' ')
    .replace(/'(?:\\.|[^'\\])*'/g, "''");
}

function findConversionProblems(projectDir: string): string[] {
  const problems: string[] = [];
  // One trigger per object and event family: the platform does not order several triggers of one object.
  const triggersByObject = new Map<string, string[]>();
  for (const file of listFiles(path.join(projectDir, triggersDir), (f) => f.endsWith('.trigger'))) {
    const match = /\btrigger\s+(\w+)\s+on\s+(\w+)\s*\(([^)]*)\)/i.exec(codeOnly(fs.readFileSync(file, 'utf8')));
    if (match === null) {
      problems.push(`${path.basename(file)}: no trigger declaration`);
      continue;
    }
    const [, name = '', objectName = '', events = ''] = match;
    triggersByObject.set(objectName, [...(triggersByObject.get(objectName) ?? []), name]);
    if (objectName === 'Lead' && !/after\s+update/i.test(events)) {
      problems.push(`${name}: the Lead trigger does not run after update, where a conversion names its Contact`);
    }
    // The events reach the conversion only through the handler, which tells them apart by Trigger.operationType.
    if (objectName === 'Lead' && !/OptOutLeadTriggerHandler\.handle\(\s*Trigger\.operationType\s*,\s*Trigger\.new\s*,\s*Trigger\.oldMap\s*\)/.test(codeOnly(fs.readFileSync(file, 'utf8')))) {
      problems.push(`${name}: does not hand its events to OptOutLeadTriggerHandler.handle, so a conversion carries nothing`);
    }
  }
  for (const [objectName, names] of triggersByObject) {
    if (names.length > 1) problems.push(`${objectName}: ${names.length} triggers (${names.sort().join(', ')}), whose order the platform does not fix`);
  }
  if (!triggersByObject.has('Lead')) problems.push('Lead: no trigger, so a conversion carries nothing');

  // A trigger that runs after update but whose handler drops that event carries nothing either.
  const handlerFile = path.join(projectDir, handlerClass);
  const handler = fs.existsSync(handlerFile) ? codeOnly(fs.readFileSync(handlerFile, 'utf8')) : '';
  if (!/\bwhen\s+AFTER_UPDATE\s*\{\s*OptOutLeadConversion\.carryToContacts\(\s*leads\s*,\s*oldLeads\s*\)\s*;/.test(handler)) {
    problems.push('OptOutLeadTriggerHandler: the after update does not call OptOutLeadConversion.carryToContacts, so a conversion carries nothing');
  }

  const file = path.join(projectDir, conversionClass);
  if (!fs.existsSync(file)) return [...problems, 'OptOutLeadConversion.cls: missing'];
  const code = codeOnly(fs.readFileSync(file, 'utf8'));
  // What the Apex tests prove in an org, the gate can only see is still written: the opt-out put on the Contact.
  if (!/\bchange\.put\(\s*optOutField\s*,\s*true\s*\)/.test(code)) {
    problems.push('OptOutLeadConversion: never puts the opt-out (true) on the Contact, so an opted-out Lead converts into a mailable Contact');
  }
  if (!/Database\.update\(\s*changes\s*,\s*false\s*,/.test(code) && !/\.optAllOrNone\s*=\s*false\s*;/.test(code)) {
    problems.push('Database.update: not a partial save of the batch, so one refused Contact fails every conversion');
  }
  // In Apex a duplicate rule that only alerts refuses the save unless allowSave is set (DMLOptions.DuplicateRuleHeader):
  // the org's standard Contact rule would then refuse the opt-out, and so the conversion, of every Contact that has a
  // look-alike. A rule that blocks still blocks.
  if (!/\.DuplicateRuleHeader\.allowSave\s*=\s*true\s*;/.test(code) || !/Database\.update\(\s*changes\s*,\s*\w+\s*,\s*System\.AccessLevel\.SYSTEM_MODE\s*\)/.test(code)) {
    problems.push('Database.update: without DuplicateRuleHeader.allowSave, so a duplicate rule that only alerts refuses the opt-out and the conversion');
  }
  if (!/\blead\.addError\(/.test(code)) {
    problems.push('addError: a Contact that refuses the opt-out does not refuse the conversion, so the opt-out is lost');
  }
  if (!/OptOutSourceStamp\.leaveAlone\(/.test(code)) {
    problems.push('OptOutSourceStamp.leaveAlone: not used, so the stamp overwrites the source the Lead carries');
  }

  // An org-wide mapping would replace the customer's own (Setup > Lead Settings > Map Lead Fields).
  for (const shipped of listFiles(path.join(projectDir, 'force-app'), (f) => /LeadConvertSetting/i.test(path.basename(f)))) {
    problems.push(`${path.relative(projectDir, shipped)}: an org-wide lead conversion mapping replaces the customer's`);
  }
  return problems;
}

describe('Lead conversion', () => {
  const brokenCopy = brokenCopies();

  test('when the package is read, then a conversion carries the opt-out through the one Lead trigger, refusing what it cannot carry', () => {
    expect(findConversionProblems(repoRoot)).toEqual([]);
  });

  test('when a second Lead trigger appears, then the gate reports the unordered pair', () => {
    const copy = brokenCopy();
    fs.writeFileSync(
      path.join(copy, triggersDir, 'LeadConversionCopy.trigger'),
      'trigger LeadConversionCopy on Lead(after update) {\n    OptOutLeadTriggerHandler.handle(Trigger.operationType, Trigger.new, Trigger.oldMap);\n}\n',
    );
    expect(findConversionProblems(copy)).toEqual([
      'Lead: 2 triggers (LeadConversionCopy, LeadOptOutSource), whose order the platform does not fix',
    ]);
  });

  test('when the Lead trigger stops running after update, then the gate reports the lost conversion', () => {
    const copy = brokenCopy();
    editFile(copy, path.join(triggersDir, 'LeadOptOutSource.trigger'), replaceOnce('before update, after update', 'before update'));
    expect(findConversionProblems(copy)).toEqual([
      'LeadOptOutSource: the Lead trigger does not run after update, where a conversion names its Contact',
    ]);
  });

  test('when the handler stops handing the after update to the conversion, then the gate reports the lost conversion', () => {
    const copy = brokenCopy();
    editFile(copy, handlerClass, replaceOnce('OptOutLeadConversion.carryToContacts(leads, oldLeads);', 'System.debug(leads);'));
    expect(findConversionProblems(copy)).toEqual([
      'OptOutLeadTriggerHandler: the after update does not call OptOutLeadConversion.carryToContacts, so a conversion carries nothing',
    ]);
  });

  test('when the Lead trigger no longer calls the handler, then the gate reports the lost conversion', () => {
    const copy = brokenCopy();
    editFile(
      copy,
      path.join(triggersDir, 'LeadOptOutSource.trigger'),
      replaceOnce('OptOutLeadTriggerHandler.handle(Trigger.operationType, Trigger.new, Trigger.oldMap);', 'OptOutSourceStamp.stamp(Trigger.new, Trigger.oldMap);'),
    );
    expect(findConversionProblems(copy)).toEqual([
      'LeadOptOutSource: does not hand its events to OptOutLeadTriggerHandler.handle, so a conversion carries nothing',
    ]);
  });

  test('when the conversion no longer puts the opt-out on the Contact, then the gate reports it', () => {
    const copy = brokenCopy();
    editFile(copy, conversionClass, replaceOnce('change.put(optOutField, true);', 'System.debug(optOutField);'));
    expect(findConversionProblems(copy)).toEqual([
      'OptOutLeadConversion: never puts the opt-out (true) on the Contact, so an opted-out Lead converts into a mailable Contact',
    ]);
  });

  test('when the Contact save no longer lets a duplicate alert pass, then the gate reports it', () => {
    const copy = brokenCopy();
    editFile(copy, conversionClass, replaceOnce('options.DuplicateRuleHeader.allowSave = true;', 'options.DuplicateRuleHeader.allowSave = false;'));
    expect(findConversionProblems(copy)).toEqual([
      'Database.update: without DuplicateRuleHeader.allowSave, so a duplicate rule that only alerts refuses the opt-out and the conversion',
    ]);
  });

  test('when a refused opt-out no longer refuses the conversion, then the gate reports it', () => {
    const copy = brokenCopy();
    editFile(copy, conversionClass, (source) => source.replace('lead.addError(', 'System.debug('));
    expect(findConversionProblems(copy)).toEqual([
      'addError: a Contact that refuses the opt-out does not refuse the conversion, so the opt-out is lost',
    ]);
  });

  test('when the package ships an org-wide lead conversion mapping, then the gate refuses it', () => {
    const copy = brokenCopy();
    const dir = path.join(copy, 'force-app', 'main', 'default', 'LeadConvertSettings');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'LeadConvertSettings.LeadConvertSetting-meta.xml'), '<LeadConvertSettings/>\n');
    expect(findConversionProblems(copy)).toEqual([
      "force-app/main/default/LeadConvertSettings/LeadConvertSettings.LeadConvertSetting-meta.xml: an org-wide lead conversion mapping replaces the customer's",
    ]);
  });

  test('when the Apex tests are read, then each way a conversion could lose an opt-out has its test', () => {
    const source = fs.readFileSync(path.join(repoRoot, classesDir, 'OptOutLeadConversionTest.cls'), 'utf8');
    const tests = [...source.matchAll(/@IsTest\s+static void (\w+)\(/g)].map((m) => m[1]);
    expect(tests).toEqual(
      expect.arrayContaining([
        'optsOutAnExistingContactThatIsNotAndCarriesTheLeadsSource',
        'carriesTheSyncFieldsToTheContactTheConversionCreates',
        'carriesTheLeadsSourceToTheContactTheConversionCreates',
        'optsOutAContactWithAnotherEmailButCopiesNothingAboutTheLeadsAddress',
        'fallsBackToEmailOptOutWhenTheConfiguredFieldIsNotACheckbox',
        'carriesTheOptOutsOfTwoHundredLeadsConvertedIntoExistingContacts',
        'carriesTheOptOutOfEveryLeadConvertedIntoOneContact',
        'refusesTheConversionOfAnOptedOutLeadWhoseContactCannotBeOptedOut',
      ]),
    );
  });
});
