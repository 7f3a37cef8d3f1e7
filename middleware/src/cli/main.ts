// The `optout-sync` command line: one program, a subcommand per task. Each subcommand returns an exit code;
// nothing here calls process.exit while clean-up may still be running.
import { Command, InvalidArgumentError, Option } from 'commander';
import { processTerminal, type Terminal } from './terminal';
import { runStart } from './start-command';
import { runSandbox } from './sandbox-command';
import { runCheck } from './check-command';
import { listDeadLetters, retryDeadLetter, startReconcile, type AdminTarget } from './admin-commands';
import { runBackfill } from './backfill-command';
import { runFullReconcile } from './reconcile-command';
import { defaultSandboxPorts } from '../sandbox/run-sandbox-servers';
import { isOrgScenario, orgScenarios } from '../sandbox/salesforce';
import { packageVersion } from './version';
import { defaultAdminUrl, resolveAdminTarget } from './admin-target';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port is a number from 0 to 65535 (0 = any free port)');
  return n;
}

function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('a positive number of seconds');
  return n;
}

function transportOption(value: string): 'pubsub' | 'cometd' {
  if (value !== 'pubsub' && value !== 'cometd') throw new InvalidArgumentError('pubsub or cometd');
  return value;
}

/** --url and --token of the commands that talk to a running middleware. */
function withAdminTarget(command: Command): Command {
  command
    .addOption(new Option('--url <url>', `base URL of the running middleware (default: from the env file, else ${defaultAdminUrl})`).env('OPTOUT_SYNC_URL'))
    .addOption(new Option('--token <token>', 'admin API token (default: ADMIN_TOKEN from the env file)').env('ADMIN_TOKEN'));
  if (!command.options.some((o) => o.long === '--env-file')) command.option('--env-file <file>', 'the env file the middleware runs with (e.g. the one `sandbox` writes)', '.env');
  return command;
}

function adminTarget(options: { url?: string; token?: string; envFile: string }): AdminTarget {
  return resolveAdminTarget(options);
}

export function buildProgram(terminal: Terminal, setExitCode: (code: number) => void): Command {
  const program = new Command('optout-sync')
    .description('Keeps email opt-out in step between Salesforce and ActiveCampaign.')
    .version(packageVersion(), '-V, --version', 'print the version and exit')
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => terminal.say(s.trimEnd()), writeErr: (s) => terminal.warn(s.trimEnd()) });
  const run = (action: Promise<number>) => action.then(setExitCode);

  program
    .command('start')
    .description('run the middleware (configuration from the environment and an optional .env file)')
    .option('--env-file <file>', 'read this file instead of .env', '.env')
    .action((o: { envFile: string }) => run(runStart(terminal, { envFile: o.envFile })));

  program
    .command('sandbox')
    .description('run the real middleware against both emulators and walk through a round trip on screen')
    .option('--sf-port <port>', 'Salesforce emulator port (0 = any free port)', port, defaultSandboxPorts.salesforce)
    .option('--pubsub-port <port>', 'Salesforce emulator Pub/Sub API port (0 = any free port)', port, defaultSandboxPorts.pubSub)
    .option('--ac-port <port>', 'ActiveCampaign emulator port (0 = any free port)', port, defaultSandboxPorts.activecampaign)
    .option('--transport <transport>', 'how the middleware receives Salesforce events: pubsub (Pub/Sub API, gRPC) or cometd', transportOption, 'pubsub')
    .option('--port <port>', 'middleware HTTP port (0 = any free port)', port, 4400)
    .option('--host <address>', 'interface the emulators and the middleware listen on (0.0.0.0 inside a container)', '127.0.0.1')
    .option('--data-dir <dir>', 'directory for the embedded database and the logs (default: a new temporary directory)')
    .option('--exit-after-demo', 'exit once the walk-through is done instead of running until Ctrl-C', false)
    .option('--step-timeout <seconds>', 'how long each step may take before the demo reports a failure', positiveSeconds, 30)
    .option('--verbose', 'show the middleware logs here instead of writing them to a file', false)
    .addOption(new Option('--scenario <name>', 'start the demo org with a real-org problem and show what the product reports').choices(Object.keys(orgScenarios)))
    .action((o: { sfPort: number; pubsubPort: number; acPort: number; port: number; host: string; transport: 'pubsub' | 'cometd'; dataDir?: string; exitAfterDemo: boolean; stepTimeout: number; verbose: boolean; scenario?: string }) =>
      run(runSandbox(terminal, { sfPort: o.sfPort, pubSubPort: o.pubsubPort, transport: o.transport, acPort: o.acPort, port: o.port, host: o.host, exitAfterDemo: o.exitAfterDemo, verbose: o.verbose, stepTimeoutSeconds: o.stepTimeout, ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}), ...(o.scenario !== undefined && isOrgScenario(o.scenario) ? { scenario: o.scenario } : {}) })),
    );

  program
    .command('check')
    .description('validate the configuration and try Salesforce, ActiveCampaign and the database once each')
    .option('--env-file <file>', 'read this file instead of .env', '.env')
    .action((o: { envFile: string }) => run(runCheck(terminal, { envFile: o.envFile })));

  const deadLetters = program.command('dead-letters').description('jobs that failed every attempt (on a running middleware)');
  withAdminTarget(deadLetters.command('list').description('list dead letters'))
    .action((o: { url?: string; token?: string; envFile: string }) => run(listDeadLetters(terminal, adminTarget(o))));
  withAdminTarget(deadLetters.command('retry').argument('<id>', 'dead-letter id (see list)').description('send a dead letter back to the queue'))
    .action((id: string, o: { url?: string; token?: string; envFile: string }) => run(retryDeadLetter(terminal, adminTarget(o), id)));

  withAdminTarget(
    program
      .command('reconcile')
      .description('ask a running middleware to re-read Salesforce and queue whatever is out of step (--full: every record against ActiveCampaign, both directions)')
      .option('--full', 'compare every Salesforce record with ActiveCampaign list statuses, both directions, and wait for the report', false)
      .option('--dry-run', 'with --full: report the drift and change nothing', false),
  ).action((o: { url?: string; token?: string; envFile: string; full: boolean; dryRun: boolean }) => {
    if (o.dryRun && !o.full) {
      terminal.warn('--dry-run goes with --full.');
      setExitCode(1);
      return;
    }
    return run(o.full ? runFullReconcile(terminal, { dryRun: o.dryRun, target: adminTarget(o), progress: process.stderr.isTTY === true }) : startReconcile(terminal, adminTarget(o)));
  });

  withAdminTarget(
    program
      .command('backfill')
      .description('align data that existed before the middleware was installed')
      .addOption(new Option('--direction <direction>', 'which side wins').choices(['sf-to-ac', 'ac-to-sf']).makeOptionMandatory())
      .option('--dry-run', 'print what would change and change nothing', false)
      .option('--env-file <file>', 'read Salesforce and ActiveCampaign settings from this file instead of .env', '.env'),
  ).action((o: { direction: 'sf-to-ac' | 'ac-to-sf'; dryRun: boolean; envFile: string; url?: string; token?: string }) =>
    run(runBackfill(terminal, { direction: o.direction, dryRun: o.dryRun, envFile: o.envFile, target: adminTarget(o), progress: process.stderr.isTTY === true })),
  );

  return program;
}

export async function main(argv: string[], terminal: Terminal = processTerminal): Promise<number> {
  let exitCode = 0;
  const program = buildProgram(terminal, (code) => (exitCode = code));
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    // Commander has already printed its message (unknown option, missing argument, --help).
    const code = typeof error === 'object' && error !== null && 'exitCode' in error && typeof error.exitCode === 'number' ? error.exitCode : 1;
    return code;
  }
  return exitCode;
}

if (require.main === module) {
  void main(process.argv).then((code) => {
    process.exitCode = code;
    // Long-running commands have stopped their servers by now; anything left (a stray timer of a library)
    // must not keep a finished command alive.
    setTimeout(() => process.exit(code), 2000).unref();
  });
}
