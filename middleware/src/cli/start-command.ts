// `optout-sync start`: the production entry point. Runs until SIGINT/SIGTERM, then stops gracefully (workers finish
// their current job, the leadership lease is released so another instance takes over at once).
import { startApp } from '../app/create-app';
import { loadConfigOrReport } from './config-loading';
import { errorText, withoutSecrets, type Terminal } from './terminal';
import { untilStopSignal } from './stop-signal';

export async function runStart(terminal: Terminal, options: { envFile?: string }): Promise<number> {
  const config = loadConfigOrReport(terminal, options.envFile);
  if (config === null) return 1;
  let app;
  try {
    app = await startApp(config);
  } catch (error) {
    terminal.warn(`optout-sync could not start: ${withoutSecrets(errorText(error), config.secrets)}`);
    return 1;
  }
  terminal.say(`optout-sync is running at ${app.url} (health: ${app.url}/healthz). Ctrl-C stops it.`);
  const signal = await untilStopSignal();
  terminal.say(`${signal} received: stopping (a second Ctrl-C exits at once)...`);
  await app.stop();
  terminal.say('stopped.');
  return 0;
}
