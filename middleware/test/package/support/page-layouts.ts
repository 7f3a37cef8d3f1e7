// Static checks of the page layouts the package ships (force-app/main/default/layouts). The layouts are new ones
// beside the customer's, which the admin assigns; nothing runs them offline, so this gate checks what a deploy
// would refuse and what would make a layout lie: every field it names exists (a package field, or a standard field
// of API 65.0), the fields the Metadata API requires on a layout are there as Required, and the package's sync
// fields are on each layout, read-only (the middleware and the package's Apex write them, a user never should).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { z } from 'zod';
import { readObjectFields } from './force-app-metadata';
import { repoRoot } from './project-copy';

/** The objects the package ships a layout for, with the standard layout name each must not take. */
export const layoutObjects = ['Contact', 'Lead'] as const;
type LayoutObject = (typeof layoutObjects)[number];

/**
 * Fields a Contact or Lead layout must hold as Required: Name stands for the required LastName, and a Lead's
 * Company and Status are always required in the layout editor (Metadata API Developer Guide, Layout; Salesforce
 * Help, "Page Layout Field Properties").
 */
export const requiredOnLayout: Record<LayoutObject, readonly string[]> = {
  Contact: ['Name'],
  Lead: ['Name', 'Company', 'Status'],
};

/** The package's sync-state fields on Contact and Lead; every field the package adds there must be on its layouts. */
export const syncFields = ['AC_Status__c', 'AC_Last_Synced__c', 'AC_Contact_Id__c', 'Opt_Out_Source__c', 'AC_Hard_Bounced__c'];

const behaviors = ['Edit', 'Required', 'Readonly'] as const;

/**
 * Standard fields apex-ls lists that the layout editor never offers (record id, system audit stamps, the delete and
 * merge bookkeeping, the record's views): a deploy refuses a layout that names one.
 */
export const notOnLayouts = new Set(['Id', 'IsDeleted', 'SystemModstamp', 'MasterRecordId', 'LastViewedDate', 'LastReferencedDate']);

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  isArray: (tagName) => ['layoutSections', 'layoutColumns', 'layoutItems', 'relatedLists'].includes(tagName),
});

// An empty element (<layoutColumns/>) parses as '': a column without items.
const emptyAsObject = (value: unknown) => (value === '' ? {} : value);
const layoutItemXml = z.object({
  field: z.string().optional(),
  behavior: z.string().optional(),
  customLink: z.string().optional(),
});
const layoutXml = z.object({
  layoutSections: z.array(
    z.object({
      label: z.string(),
      style: z.string(),
      layoutColumns: z
        .array(z.preprocess(emptyAsObject, z.object({ layoutItems: z.array(layoutItemXml).default([]) })))
        .default([]),
    }),
  ),
});

export interface LayoutItem {
  section: string;
  field: string;
  behavior: string | undefined;
}

export interface LayoutInfo {
  /** The layout's full name, from the file name: `Object-Layout Name`. */
  fullName: string;
  objectName: string;
  items: LayoutItem[];
}

export function readLayouts(projectDir: string): LayoutInfo[] {
  const dir = path.join(projectDir, 'force-app', 'main', 'default', 'layouts');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.layout-meta.xml'))
    .sort()
    .map((fileName) => {
      const fullName = fileName.replace(/\.layout-meta\.xml$/, '');
      const document = z.record(z.string(), z.unknown()).parse(parser.parse(fs.readFileSync(path.join(dir, fileName), 'utf8')));
      const parsed = layoutXml.safeParse(document.Layout);
      if (!parsed.success) throw new Error(`${fileName}: ${z.prettifyError(parsed.error)}`);
      const items = parsed.data.layoutSections.flatMap((section) =>
        section.layoutColumns.flatMap((column) =>
          column.layoutItems.flatMap((item) => (item.field === undefined ? [] : [{ section: section.label, field: item.field, behavior: item.behavior }])),
        ),
      );
      // The Metadata API takes the object from the full name, up to the first hyphen.
      return { fullName, objectName: fullName.slice(0, fullName.indexOf('-')), items };
    });
}

const sobjectTypesJar = path.join(repoRoot, 'node_modules', '@salesforce', 'code-analyzer-pmd-engine', 'dist', 'java-lib', 'sobject-types-65.0.0.jar');

/**
 * The standard fields of a standard object in API 65.0, as apex-ls knows them (the same jar the Apex semantics gate
 * uses): the public fields of its SObject class, compound fields (Name, MailingAddress) included.
 */
export function standardFields(objectName: string): Set<string> {
  const javap = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'javap') : 'javap';
  const result = spawnSync(javap, ['-public', '-cp', sobjectTypesJar, `com.nawforce.runforce.SObjects.${objectName}`], { encoding: 'utf8', timeout: 60_000 });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`javap could not read ${objectName} from ${sobjectTypesJar}: ${result.stderr}`);
  const fields = new Set<string>();
  for (const match of result.stdout.matchAll(/^\s+public\s+[\w.$]+\s+(\w+);$/gm)) {
    if (match[1]) fields.add(match[1]);
  }
  if (fields.size === 0) throw new Error(`javap listed no fields of ${objectName}`);
  return fields;
}

export function findLayoutProblems(projectDir: string): string[] {
  const layouts = readLayouts(projectDir);
  const problems: string[] = [];
  for (const objectName of layoutObjects) {
    if (!layouts.some((l) => l.objectName === objectName)) problems.push(`${objectName}: no layout shipped`);
  }
  const standard = new Map<string, Set<string>>();
  for (const layout of layouts) {
    const { fullName, objectName } = layout;
    if (!(layoutObjects as readonly string[]).includes(objectName)) {
      problems.push(`${fullName}: a layout for ${objectName}, which the package does not sync`);
      continue;
    }
    // The standard layout's name: a packaged layout of that name would take the place of the customer's own.
    if (fullName === `${objectName}-${objectName} Layout`) {
      problems.push(`${fullName}: the standard layout's name, so the package would replace the customer's layout`);
    }
    if (!standard.has(objectName)) standard.set(objectName, standardFields(objectName));
    const known = standard.get(objectName) ?? new Set<string>();
    const custom = new Map(readObjectFields(projectDir, objectName).map((f) => [f.name, f]));
    const seen = new Set<string>();
    for (const item of layout.items) {
      if (seen.has(item.field)) problems.push(`${fullName}: ${item.field} is on the layout twice`);
      seen.add(item.field);
      if (!custom.has(item.field) && !known.has(item.field)) {
        problems.push(`${fullName}: ${item.field} is neither a field of the package nor a standard field of ${objectName}`);
      } else if (notOnLayouts.has(item.field)) {
        problems.push(`${fullName}: ${item.field} is a system field no layout can hold`);
      }
      if (item.behavior === undefined || !(behaviors as readonly string[]).includes(item.behavior)) {
        problems.push(`${fullName}: ${item.field} has behavior ${item.behavior ?? '(none)'}, not one of ${behaviors.join(', ')}`);
      }
      if (custom.get(item.field)?.required === true && item.behavior !== 'Required') {
        problems.push(`${fullName}: ${item.field} is a required field but ${item.behavior ?? 'has no behavior'} on the layout`);
      }
    }
    for (const field of requiredOnLayout[objectName as LayoutObject]) {
      const item = layout.items.find((i) => i.field === field);
      if (item?.behavior !== 'Required') {
        problems.push(`${fullName}: ${field} must be on the layout as Required, is ${item === undefined ? 'missing' : item.behavior ?? 'without behavior'}`);
      }
    }
    // Every field the package adds to the object, not a fixed list: a field added later cannot be left off.
    for (const field of custom.keys()) {
      const item = layout.items.find((i) => i.field === field);
      if (item === undefined) {
        problems.push(`${fullName}: sync field ${field} is missing`);
      } else if (item.behavior !== 'Readonly') {
        problems.push(`${fullName}: sync field ${field} is ${item.behavior ?? 'without behavior'}, not Readonly`);
      } else if (item.section !== 'Opt-out sync') {
        problems.push(`${fullName}: sync field ${field} is in section "${item.section}", not "Opt-out sync"`);
      }
    }
  }
  return problems;
}
