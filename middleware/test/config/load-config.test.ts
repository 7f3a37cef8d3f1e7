import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, parseConfig } from '../../src/config/load-config';
import { configEntries } from '../../src/config/config-schema';

const valid = {
  SF_CLIENT_ID: '3MVG9-consumer-key',
  SF_CLIENT_SECRET: 'sf-secret-value-123',
  AC_API_URL: 'https://example.api-us1.com/',
  AC_API_TOKEN: 'ac-token-abcdef-0123456789',
  ADMIN_TOKEN: 'admin-token-0123456789',
  WEBHOOK_SECRET: 'webhook-secret-0123456789',
};

describe('configuration', () => {
  test('when only the required variables are set, then defaults fill the rest and PGlite is selected', () => {
    const config = parseConfig(valid);
    expect(config.database).toEqual({ kind: 'pglite', dataDir: '.data/pglite' });
    expect(config.salesforce.auth.flow).toBe('client_credentials');
    expect(config.activecampaign.apiUrl).toBe('https://example.api-us1.com');
    expect(config.activecampaign.rateLimitPerSecond).toBe(5);
    expect(config.secrets).toEqual(expect.arrayContaining([valid.AC_API_TOKEN, valid.ADMIN_TOKEN, valid.WEBHOOK_SECRET, valid.SF_CLIENT_SECRET]));
  });

  test('when DATABASE_URL is a postgres URL and a private key is set, then PostgreSQL and the JWT flow are selected', () => {
    const config = parseConfig({ ...valid, SF_CLIENT_SECRET: undefined, SF_USERNAME: 'int@example.com', SF_PRIVATE_KEY_FILE: 'key.pem', DATABASE_URL: 'postgres://u@127.0.0.1/db' });
    expect(config.database).toEqual({ kind: 'postgres', url: 'postgres://u@127.0.0.1/db' });
    expect(config.salesforce.auth).toEqual({ flow: 'jwt', clientId: valid.SF_CLIENT_ID, username: 'int@example.com', privateKeyFile: 'key.pem' });
  });

  test('when several variables are wrong, then there is one line per problem naming the variable and no secret value', () => {
    const attempt = () => parseConfig({ ...valid, AC_API_TOKEN: '', ADMIN_TOKEN: 'short', HTTP_PORT: 'eighty', DATABASE_URL: 'mysql://secret-password@db' });
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (error) {
      const problems = (error as ConfigError).problems;
      expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['AC_API_TOKEN', 'ADMIN_TOKEN', 'DATABASE_URL', 'HTTP_PORT']);
      expect((error as Error).message).not.toContain('secret-password');
      expect((error as Error).message).not.toContain('short');
    }
  });

  test('when neither JWT nor client-credentials settings are complete, then the error says what to set', () => {
    expect(() => parseConfig({ ...valid, SF_CLIENT_SECRET: undefined, SF_USERNAME: 'int@example.com' })).toThrow(/SF_PRIVATE_KEY_FILE/);
    expect(() => parseConfig({ ...valid, SF_CLIENT_SECRET: undefined })).toThrow(/SF_CLIENT_SECRET/);
  });

  test('when .env.example is read, then it documents every variable of the schema', () => {
    const example = fs.readFileSync(path.resolve(__dirname, '../../../.env.example'), 'utf8');
    for (const name of Object.keys(configEntries)) expect(example).toMatch(new RegExp(`^(# )?${name}=`, 'm'));
  });
});
