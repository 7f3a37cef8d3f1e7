// A misconfigured integration user is reported by the running product before it silently loses events.
import { engines } from '../support/test-databases';
import { startSandbox, type Sandbox } from '../support/sandbox-harness';

describe.each(engines)('the integration user lacks field-level security for the opt-out field, on %s', (engine) => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox(engine);
    sandbox.sf.setFieldAccess('Contact', 'HasOptedOutOfEmail', 'hidden');
    sandbox.sf.setFieldAccess('Lead', 'HasOptedOutOfEmail', 'read');
    await sandbox.startApp();
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  test('when the middleware starts, then its status names each object, field and missing permission', async () => {
    const status = await sandbox.app!.status();
    expect(status.salesforcePermissions).toEqual([
      expect.objectContaining({ object: 'Contact', field: 'HasOptedOutOfEmail', permission: 'Field-level security: Read' }),
      expect.objectContaining({ object: 'Lead', field: 'HasOptedOutOfEmail', permission: 'Field-level security: Edit' }),
    ]);
    expect(sandbox.logLines.join('')).toContain('salesforce permissions missing: Contact.HasOptedOutOfEmail lacks Field-level security: Read');
  });
});
