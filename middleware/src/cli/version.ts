// The version printed by `optout-sync --version`: the package's own, read from the package.json that ships with the
// code (the sources run from middleware/src/cli, the build from dist/cli: the file is found by walking up).
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const packageManifest = z.object({ name: z.literal('optout-sync'), version: z.string().min(1) });

export function packageVersion(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate)) {
      const parsed = packageManifest.safeParse(JSON.parse(fs.readFileSync(candidate, 'utf8')));
      if (parsed.success) return parsed.data.version;
    }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}
