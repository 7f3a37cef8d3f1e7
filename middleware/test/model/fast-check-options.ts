// One place for fast-check's run parameters. A failing property prints its seed and path; to replay it exactly:
//   FC_SEED=<seed> FC_PATH=<path> npm run jest -- <test file>
// (FC_RUNS overrides the number of runs, e.g. for a longer soak.)
import type fc from 'fast-check';

export function propertyParameters<T>(numRuns: number): fc.Parameters<T> {
  const seed = process.env.FC_SEED;
  const path = process.env.FC_PATH;
  const runs = process.env.FC_RUNS;
  return {
    numRuns: runs !== undefined ? Number(runs) : numRuns,
    ...(seed !== undefined ? { seed: Number(seed) } : {}),
    ...(path !== undefined ? { path, endOnFailure: true } : {}),
  };
}
