#!/usr/bin/env node
// Runs the optout-sync CLI. A development clone (`npm ci`) runs the TypeScript sources through tsx, so edits take
// effect at once; a production install (`npm ci --omit=dev && npm run build`, no tsx) runs the compiled
// dist/cli/main.js.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function loadCli() {
  try {
    require.resolve('tsx/cjs');
  } catch {
    const compiled = path.join(__dirname, '..', '..', 'dist', 'cli', 'main.js');
    if (fs.existsSync(compiled)) return require(compiled);
    process.stderr.write('optout-sync: run `npm run build` first (no dist/cli/main.js, and no tsx to run the sources).\n');
    process.exit(1);
  }
  require('tsx/cjs');
  return require('../src/cli/main.ts');
}

loadCli()
  .main(process.argv)
  .then((code) => {
    process.exitCode = code;
    // A finished command must not be kept alive by a stray library timer.
    setTimeout(() => process.exit(code), 2000).unref();
  });
