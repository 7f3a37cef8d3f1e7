// The chaos run's fuzz phase (issue 8 items 3 and 4): runs the fuzz suites (middleware/test/fuzz) in their own jest
// process and reports what they fed and how many of them failed. The suites are the same as in `npm test`; here
// they also report their input counts, so that the run's JSON states a measured figure rather than a budget.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

export interface FuzzPhaseResult {
  inputs: number;
  /** Fuzz tests that failed (a crash, an unhandled rejection, an input not quarantined with its field, ...). */
  crashes: number;
  byTarget: { target: string; fed: number }[];
  failures: string[];
  seconds: number;
}

const reportLine = z.object({ target: z.string(), fed: z.number().int().nonnegative() });
const jestJson = z.object({
  numFailedTests: z.number().int(),
  numRuntimeErrorTestSuites: z.number().int(),
  testResults: z.array(z.object({ name: z.string(), message: z.string(), assertionResults: z.array(z.object({ fullName: z.string(), status: z.string() })) })),
});

const repoRoot = path.resolve(__dirname, '..', '..');

export async function runFuzzPhase(): Promise<FuzzPhaseResult> {
  const started = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'optout-fuzz-'));
  const reportFile = path.join(dir, 'inputs.jsonl');
  const jsonFile = path.join(dir, 'jest.json');
  try {
    const files = fs.readdirSync(path.join(repoRoot, 'middleware/test/fuzz')).filter((f) => f.endsWith('.fuzz.test.ts')).map((f) => path.join('middleware/test/fuzz', f));
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, [require.resolve('jest/bin/jest'), '--runTestsByPath', ...files, '--json', `--outputFile=${jsonFile}`, '--silent'], {
        cwd: repoRoot,
        env: { ...process.env, FUZZ_REPORT_FILE: reportFile, NODE_OPTIONS: '--experimental-vm-modules --no-warnings=ExperimentalWarning' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderrTail = '';
      child.stderr.on('data', (chunk: Buffer) => (stderrTail = (stderrTail + chunk.toString('utf8')).slice(-4000)));
      child.on('error', reject);
      child.on('exit', (code) => {
        if (!fs.existsSync(jsonFile)) reject(new Error(`the fuzz suites did not report (exit ${code}): ${stderrTail}`));
        else resolve(code);
      });
    });
    const jest = jestJson.parse(JSON.parse(fs.readFileSync(jsonFile, 'utf8')));
    const byTarget = fs.existsSync(reportFile)
      ? fs.readFileSync(reportFile, 'utf8').split('\n').filter((l) => l !== '').map((l) => reportLine.parse(JSON.parse(l)))
      : [];
    const failures = jest.testResults.flatMap((r) => [
      ...r.assertionResults.filter((a) => a.status === 'failed').map((a) => `${path.basename(r.name)}: ${a.fullName}`),
      ...(r.assertionResults.length === 0 && r.message !== '' ? [`${path.basename(r.name)}: ${r.message.slice(0, 300)}`] : []),
    ]);
    const crashes = jest.numFailedTests + jest.numRuntimeErrorTestSuites;
    if (exitCode !== 0 && crashes === 0) failures.push(`jest exited ${exitCode}`);
    return { inputs: byTarget.reduce((sum, t) => sum + t.fed, 0), crashes: Math.max(crashes, exitCode !== 0 ? 1 : 0), byTarget, failures, seconds: Math.round((Date.now() - started) / 1000) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
