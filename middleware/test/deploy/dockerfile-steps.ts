// Reads the Dockerfile into stages of plain instructions, and the .dockerignore into a file filter, so that a test
// can carry out the image's steps without a Docker engine. Only the forms the Dockerfile uses are understood; anything
// else fails the test loudly, so the file cannot drift into steps the test silently skips.
import fs from 'node:fs';
import path from 'node:path';

export type Instruction =
  | { kind: 'WORKDIR'; dir: string }
  | { kind: 'COPY'; from: string | null; sources: string[]; dest: string }
  | { kind: 'RUN'; command: string }
  | { kind: 'ENV'; name: string; value: string }
  | { kind: 'USER'; user: string }
  | { kind: 'EXPOSE'; ports: number[] }
  | { kind: 'HEALTHCHECK'; options: Record<string, string>; command: string[] }
  | { kind: 'STOPSIGNAL'; signal: string }
  | { kind: 'ENTRYPOINT' | 'CMD'; argv: string[] };

export interface Stage {
  base: string;
  name: string;
  instructions: Instruction[];
}

function jsonArgv(text: string, where: string): string[] {
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) throw new Error(`${where}: only the exec (JSON array) form is understood`);
  return parsed;
}

export function parseDockerfile(text: string): Stage[] {
  const logical = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of logical) {
    const [keyword = '', ...restParts] = line.split(/\s+/);
    const rest = line.slice(keyword.length).trim();
    const upper = keyword.toUpperCase();
    if (upper === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!m) throw new Error(`FROM not understood: ${line}`);
      stages.push({ base: m[1]!, name: m[2] ?? `stage-${stages.length}`, instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (stage === undefined) throw new Error(`instruction before FROM: ${line}`);
    const add = (i: Instruction) => stage.instructions.push(i);
    switch (upper) {
      case 'WORKDIR':
        add({ kind: 'WORKDIR', dir: rest });
        break;
      case 'COPY': {
        const words = restParts.filter((w) => !w.startsWith('--chown='));
        const fromFlag = words.find((w) => w.startsWith('--from='));
        const paths = words.filter((w) => !w.startsWith('--'));
        if (words.some((w) => w.startsWith('--') && !w.startsWith('--from='))) throw new Error(`COPY flag not understood: ${line}`);
        add({ kind: 'COPY', from: fromFlag?.slice('--from='.length) ?? null, sources: paths.slice(0, -1), dest: paths.at(-1)! });
        break;
      }
      case 'RUN':
        add({ kind: 'RUN', command: rest });
        break;
      case 'ENV': {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(rest);
        if (!m) throw new Error(`ENV must be NAME=value: ${line}`);
        add({ kind: 'ENV', name: m[1]!, value: m[2]! });
        break;
      }
      case 'USER':
        add({ kind: 'USER', user: rest });
        break;
      case 'EXPOSE':
        add({ kind: 'EXPOSE', ports: restParts.map(Number) });
        break;
      case 'HEALTHCHECK': {
        const cmdAt = rest.indexOf('CMD ');
        const options = Object.fromEntries(
          rest
            .slice(0, cmdAt)
            .trim()
            .split(/\s+/)
            .filter(Boolean)
            .map((o) => o.replace(/^--/, '').split('=') as [string, string]),
        );
        add({ kind: 'HEALTHCHECK', options, command: jsonArgv(rest.slice(cmdAt + 4), line) });
        break;
      }
      case 'STOPSIGNAL':
        add({ kind: 'STOPSIGNAL', signal: rest });
        break;
      case 'ENTRYPOINT':
      case 'CMD':
        add({ kind: upper, argv: jsonArgv(rest, line) });
        break;
      default:
        throw new Error(`Dockerfile instruction not understood by the test: ${line}`);
    }
  }
  return stages;
}

/** The .dockerignore rules: the last pattern a path matches decides ('!' re-includes). */
export function dockerignoreFilter(text: string): (relativePath: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => ({ include: l.startsWith('!'), pattern: l.replace(/^!/, '') }));
  // A pattern that matches a directory matches everything under it (`*` leaves out every top-level folder).
  const matches = (file: string, pattern: string) => {
    const parts = file.split('/');
    return parts.some((_, i) => path.matchesGlob(parts.slice(0, i + 1).join('/'), pattern));
  };
  return (file) => {
    let included = true;
    for (const rule of rules) if (matches(file, rule.pattern)) included = rule.include;
    return included;
  };
}

export function readDockerfile(root: string): { stages: Stage[]; inContext: (file: string) => boolean } {
  return {
    stages: parseDockerfile(fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8')),
    inContext: dockerignoreFilter(fs.readFileSync(path.join(root, '.dockerignore'), 'utf8')),
  };
}
