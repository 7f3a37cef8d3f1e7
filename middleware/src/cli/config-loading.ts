// `start` and `check` read the configuration the same way and report problems the same way: one line per
// variable, naming it and never echoing its value (values may be secrets).
import { ConfigError, loadConfig, type AppConfig } from '../config/load-config';
import type { Terminal } from './terminal';

export function loadConfigOrReport(terminal: Terminal, envFile?: string): AppConfig | null {
  try {
    return loadConfig(envFile);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    terminal.warn('The configuration is invalid:');
    for (const problem of error.problems) terminal.warn(`  - ${problem}`);
    terminal.warn('Set these variables in the environment or in .env (see .env.example).');
    return null;
  }
}
