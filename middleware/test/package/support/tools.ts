// Runs the offline gates of DESIGN §6: the sf CLI's source conversion, the Apex parser and Prettier, the apex-ls
// semantic checker and PMD. Each runner returns findings as data; the tests decide what fails.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { ApexErrorListener, ApexParserFactory } from '@apexdevtools/apex-parser';
import { z } from 'zod';
import { isApexSource, listFiles, repoRoot } from './project-copy';

const javaLib = path.join(repoRoot, 'node_modules', '@salesforce', 'code-analyzer-pmd-engine', 'dist', 'java-lib');
const gatesDir = path.join(repoRoot, 'scripts', 'gates');
export const pmdRuleset = path.join(gatesDir, 'pmd-ruleset.xml');
/** PMD priorities 1 (High) to 3 (Medium) fail the gate; 4-5 are reported only (docs/PACKAGE.md). */
export const pmdFailingPriority = 3;

export interface ToolRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): ToolRun {
  const result = spawnSync(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 300_000,
  });
  if (result.error) {
    throw result.error;
  }
  // A tool killed by the timeout has no verdict: say so rather than let "non-zero exit, nothing flagged" pass or fail
  // for the wrong reason.
  if (result.signal !== null) {
    throw new Error(`${path.basename(command)} ${args.slice(0, 2).join(' ')} was killed by ${result.signal} (timeout 300 s on a loaded machine?)`);
  }
  return {
    exitCode: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
  };
}

function javaCommand(): string {
  // Java 17 is what apex-ls and PMD 7 need; JAVA_HOME wins over PATH as the JDK tools do.
  return process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

// ---------------------------------------------------------------------------------------------------------------
// sf project convert source

/** The sf CLI, run on the same Node as the tests (npm scripts put Node 22 first; the CLI needs it, DESIGN §6.1). */
function sfEnv(home: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    HOME: home,
    SF_DISABLE_TELEMETRY: 'true',
    SFDX_DISABLE_TELEMETRY: 'true',
    SF_AUTOUPDATE_DISABLE: 'true',
    SFDX_AUTOUPDATE_DISABLE: 'true',
    SF_HIDE_RELEASE_NOTES: 'true',
    SF_HIDE_RELEASE_NOTES_FOOTER: 'true',
    SF_SKIP_NEW_VERSION_CHECK: 'true',
    SF_DISABLE_SOURCE_MEMBER_POLLING: 'true',
    SF_USE_PROGRESS_BAR: 'false',
    SF_DISABLE_DNS_CHECK: 'true',
    FORCE_COLOR: '0',
  };
}

export interface ConvertResult extends ToolRun {
  outputDir: string;
  /** Apex sources whose class or trigger (with its -meta.xml) is missing from the converted output. */
  missingFromOutput: string[];
}

export function convertSource(projectDir: string): ConvertResult {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'optout-sync-convert-'));
  const outputDir = path.join(scratch, 'mdapi');
  const home = path.join(scratch, 'home');
  fs.mkdirSync(home);
  const sfBin = path.join(repoRoot, 'node_modules', '@salesforce', 'cli', 'bin', 'run.js');
  const result = run(
    process.execPath,
    [sfBin, 'project', 'convert', 'source', '--root-dir', 'force-app', '--output-dir', outputDir, '--json'],
    { cwd: projectDir, env: sfEnv(home) },
  );
  const missingFromOutput: string[] = [];
  if (result.exitCode === 0) {
    // The CLI silently drops a class whose -meta.xml is missing; the deploy would then lack it.
    for (const source of listFiles(path.join(projectDir, 'force-app'), isApexSource)) {
      const folder = source.endsWith('.cls') ? 'classes' : 'triggers';
      const converted = path.join(outputDir, folder, path.basename(source));
      if (!fs.existsSync(converted) || !fs.existsSync(`${converted}-meta.xml`)) {
        missingFromOutput.push(path.relative(projectDir, source));
      }
    }
  }
  return { ...result, outputDir, missingFromOutput };
}

// ---------------------------------------------------------------------------------------------------------------
// Apex syntax: @apexdevtools/apex-parser and prettier-plugin-apex

export interface ApexSyntaxIssue {
  file: string;
  line: number;
  column: number;
  message: string;
}

class CollectingErrorListener extends ApexErrorListener {
  readonly issues: Omit<ApexSyntaxIssue, 'file'>[] = [];
  apexSyntaxError(line: number, column: number, message: string): void {
    this.issues.push({ line, column, message });
  }
}

export function parseApex(file: string): ApexSyntaxIssue[] {
  const listener = new CollectingErrorListener();
  const { parser } = ApexParserFactory.createLexerAndParser(fs.readFileSync(file, 'utf8'), listener);
  if (file.endsWith('.trigger')) {
    parser.triggerUnit();
  } else {
    parser.compilationUnit();
  }
  return listener.issues.map((issue) => ({ file, ...issue }));
}

export function parseAllApex(projectDir: string): {
  files: string[];
  issues: ApexSyntaxIssue[];
} {
  const files = listFiles(path.join(projectDir, 'force-app'), isApexSource);
  return { files, issues: files.flatMap(parseApex) };
}

export interface PrettierCheck extends ToolRun {
  /** Files prettier reports as unformatted or unparsable. */
  flagged: string[];
}

export function prettierCheck(projectDir: string): PrettierCheck {
  const prettierBin = path.join(repoRoot, 'node_modules', 'prettier', 'bin', 'prettier.cjs');
  const result = run(process.execPath, [prettierBin, '--check', 'force-app/**/*.{cls,trigger}'], { cwd: projectDir });
  const flagged = new Set<string>();
  // With CI=true prettier colours its output; the verdict is read from the text without escape codes.
  const plain = stripVTControlCharacters(`${result.stdout}\n${result.stderr}`);
  for (const line of plain.split('\n')) {
    const match = /^\[(?:warn|error)\] (force-app\/\S+\.(?:cls|trigger))/.exec(line);
    if (match?.[1]) {
      flagged.add(match[1]);
    }
  }
  return { ...result, flagged: [...flagged].sort() };
}

// ---------------------------------------------------------------------------------------------------------------
// apex-ls CheckForIssues (exit 4 = issues found)

const apexLsReport = z.object({
  files: z.array(
    z.object({
      path: z.string(),
      messages: z.array(
        z.object({
          start: z.object({ line: z.number() }),
          category: z.string(),
          message: z.string(),
        }),
      ),
    }),
  ),
});

export interface ApexLsIssue {
  file: string;
  line: number;
  category: string;
  message: string;
}

export interface ApexLsResult extends ToolRun {
  issues: ApexLsIssue[];
}

export function runApexLs(projectDir: string): ApexLsResult {
  const result = run(
    javaCommand(),
    [
      '-cp',
      `${javaLib}${path.sep}*`,
      'io.github.apexdevtools.apexls.CheckForIssues',
      '-n',
      '-d',
      'warnings',
      '-f',
      'json',
      '-w',
      projectDir,
    ],
    { cwd: projectDir },
  );
  if (result.exitCode !== 0 && result.exitCode !== 4) {
    throw new Error(`apex-ls failed to run (exit ${result.exitCode}): ${result.stderr || result.stdout}`);
  }
  const text = result.stdout.trim();
  const issues =
    text === ''
      ? []
      : apexLsReport.parse(JSON.parse(text)).files.flatMap((file) =>
          file.messages.map((m) => ({
            file: path.relative(projectDir, file.path),
            line: m.start.line,
            category: m.category,
            message: m.message,
          })),
        );
  return { ...result, issues };
}

// ---------------------------------------------------------------------------------------------------------------
// PMD 7 through scripts/gates/PmdGate.java (PMD's Java API; the package ships no PMD CLI jar)

const pmdLine = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('violation'),
    file: z.string(),
    line: z.number(),
    rule: z.string(),
    ruleSet: z.string().nullable(),
    priority: z.number().int().min(1).max(5),
    message: z.string(),
  }),
  z.object({
    kind: z.literal('processingError'),
    file: z.string(),
    message: z.string().nullable(),
  }),
  z.object({
    kind: z.literal('configurationError'),
    rule: z.string(),
    message: z.string().nullable(),
  }),
]);
export type PmdFinding = z.infer<typeof pmdLine>;

export interface PmdResult extends ToolRun {
  findings: PmdFinding[];
  /** Violations at or above the failing priority, processing errors and configuration errors. */
  failures: PmdFinding[];
}

export function runPmd(projectDir: string, ruleset: string = pmdRuleset): PmdResult {
  const result = run(
    javaCommand(),
    ['-cp', `${javaLib}${path.sep}*`, path.join(gatesDir, 'PmdGate.java'), ruleset, path.join(projectDir, 'force-app')],
    { cwd: projectDir },
  );
  if (result.exitCode !== 0) {
    throw new Error(`PMD failed to run (exit ${result.exitCode}): ${result.stderr || result.stdout}`);
  }
  const findings = result.stdout
    .split('\n')
    .filter((line) => line.trim().startsWith('{'))
    .map((line) => pmdLine.parse(JSON.parse(line)))
    .map((finding) => ('file' in finding ? { ...finding, file: path.relative(projectDir, finding.file) } : finding));
  const failures = findings.filter((f) => f.kind !== 'violation' || f.priority <= pmdFailingPriority);
  return { ...result, findings, failures };
}
