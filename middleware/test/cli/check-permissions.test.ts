// `optout-sync check` names what the integration user lacks: the object, the field and the permission.
import path from 'node:path';
import { startSandboxServers, type SandboxServers } from '../../src/sandbox/run-sandbox-servers';
import { emptyWorkDir, runCli } from './run-cli';

describe('optout-sync check against a misconfigured org', () => {
  let servers: SandboxServers;
  let env: Record<string, string>;

  beforeAll(async () => {
    servers = await startSandboxServers({ salesforcePort: 0, activecampaignPort: 0 });
    env = {
      SF_LOGIN_URL: servers.sf.url,
      SF_CLIENT_ID: servers.sf.clientId,
      SF_CLIENT_SECRET: servers.sf.clientSecret,
      SF_API_VERSION: servers.sf.apiVersion,
      AC_API_URL: servers.ac.url,
      AC_API_TOKEN: servers.ac.apiToken,
      ADMIN_TOKEN: 'admin-token-for-cli-tests-0123456789',
      WEBHOOK_SECRET: 'webhook-secret-for-cli-tests-0123456789',
      PGLITE_DATA_DIR: path.join(emptyWorkDir(), 'pglite'),
    };
  });
  afterAll(async () => {
    await servers?.close();
  });

  test('when field-level security hides the opt-out field on Contact and Lead is read-only, then check fails naming each object, field and permission', async () => {
    servers.sf.setFieldAccess('Contact', 'HasOptedOutOfEmail', 'hidden');
    servers.sf.setObjectAccess('Lead', 'read');
    try {
      const result = await runCli(['check'], { env });
      expect(result.code).toBe(1);
      const line = result.stdout.split('\n').find((l) => l.startsWith('FAILED  Salesforce permissions:')) ?? '';
      expect(line).toContain('Contact.HasOptedOutOfEmail lacks Field-level security: Read');
      expect(line).toContain('Lead lacks Edit');
      expect(result.stdout).toMatch(/hint: assign the package permission set/);
      expect(result.stdout).toMatch(/^ok {6}Salesforce: /m);
    } finally {
      servers.sf.setFieldAccess('Contact', 'HasOptedOutOfEmail', 'edit');
      servers.sf.setObjectAccess('Lead', 'edit');
    }
  });

  test('when the opt-out field is read-only on Lead, then check names Lead.HasOptedOutOfEmail and field-level security Edit', async () => {
    servers.sf.setFieldAccess('Lead', 'HasOptedOutOfEmail', 'read');
    try {
      const result = await runCli(['check'], { env });
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/^FAILED {2}Salesforce permissions: Lead\.HasOptedOutOfEmail lacks Field-level security: Edit: /m);
    } finally {
      servers.sf.setFieldAccess('Lead', 'HasOptedOutOfEmail', 'edit');
    }
  });
});
