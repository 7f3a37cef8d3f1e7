// The benches measure the middleware as production runs it: compiled JavaScript on plain node, with the heap
// settings of the production start command (README "Memory"), not the TypeScript sources under tsx, whose loader
// and transpile cache add ~25 MB to the process. The child and the sources it imports are compiled once per run
// into node_modules/.cache (never committed; node resolves the dependencies from the repository's node_modules).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '..', '..', '..');

/**
 * The node flags of a production instance (README "Memory"): V8 otherwise lets the heap grow to several times the
 * live data before a full collection, because memory looks plentiful. The middleware's live heap stays near 40 MB
 * under both benches' bursts (BENCH_HEAP_LOG=1 prints it), so 80 MB of old space leaves it twice that, and small
 * young-generation semi-spaces trade a little CPU for ~40 MB less resident memory.
 */
export const productionNodeFlags = ['--max-old-space-size=80', '--max-semi-space-size=2'];

/** Compiles middleware-child.ts and everything it imports; returns the path of the compiled child. */
export function compileMiddlewareChild(): string {
  const outDir = path.join(repoRoot, 'node_modules', '.cache', 'optout-bench');
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const configPath = path.join(outDir, 'tsconfig.json');
  fs.writeFileSync(
    configPath,
    JSON.stringify({
      extends: path.join(repoRoot, 'tsconfig.json'),
      compilerOptions: { rootDir: path.join(repoRoot, 'middleware'), outDir, types: ['node'], sourceMap: false },
      files: [path.join(repoRoot, 'middleware', 'bench', 'support', 'middleware-child.ts')],
      include: [],
    }),
  );
  execFileSync(path.join(repoRoot, 'node_modules', '.bin', 'tsc'), ['-p', configPath], { stdio: 'inherit' });
  // tsc copies no .proto: the Pub/Sub client loads Salesforce's proto from beside its compiled module.
  const proto = path.join('src', 'salesforce', 'pubsub', 'pubsub_api.proto');
  fs.cpSync(path.join(repoRoot, 'middleware', proto), path.join(outDir, proto));
  return path.join(outDir, 'bench', 'support', 'middleware-child.js');
}
