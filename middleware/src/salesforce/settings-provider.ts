// Reads the product settings from the org's custom metadata at start and on a schedule; falls back to the
// documented defaults when the package is not installed (the type is unknown to the org).
import type { Logger } from 'pino';
import { z } from 'zod';
import type { SalesforceRestClient } from './salesforce-rest';
import { SalesforceApiError } from './salesforce-errors';
import { defaultSettings, settingsFromRecord, settingsSoql, type Settings } from '../sync/settings';

export class SettingsProvider {
  private current: Settings = defaultSettings;
  source: 'org' | 'defaults' = 'defaults';

  constructor(private readonly rest: Pick<SalesforceRestClient, 'query'>, private readonly logger: Logger) {}

  get(): Settings {
    return this.current;
  }

  async refresh(): Promise<Settings> {
    try {
      const [record] = await this.rest.query(settingsSoql, z.unknown());
      const next = record === undefined ? defaultSettings : settingsFromRecord(record);
      if (JSON.stringify(next) !== JSON.stringify(this.current)) this.logger.info({ settings: next }, 'settings changed');
      this.current = next;
      this.source = record === undefined ? 'defaults' : 'org';
    } catch (error) {
      // INVALID_TYPE: the package (and so the custom metadata type) is not installed: defaults apply.
      if (error instanceof SalesforceApiError && error.errorCode === 'INVALID_TYPE') {
        this.source = 'defaults';
        return this.current;
      }
      // Anything else (network, a malformed record): keep the last good settings, say so.
      this.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'settings refresh failed; keeping the last good settings');
    }
    return this.current;
  }
}
