// Lints the package's Lightning web components with Salesforce's recommended LWC rules (@salesforce/eslint-config-lwc,
// the configuration the Salesforce DX project template uses). Run by `npm run lint:lwc` from the repository root.
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import jest from 'eslint-plugin-jest';
import lwcConfig from '@salesforce/eslint-config-lwc';

export default defineConfig([
  {
    files: ['**/lwc/**/*.js'],
    extends: [lwcConfig.configs.recommended],
  },
  {
    // The components' tests run in Node under @salesforce/sfdx-lwc-jest: jest's globals, and wire adapters mocked.
    files: ['**/lwc/**/__tests__/**/*.js'],
    extends: [lwcConfig.configs.recommended, jest.configs['flat/recommended']],
    languageOptions: { globals: { ...globals.node, ...globals.jest } },
    // setTimeout is restricted in components (it runs outside the framework's rendering); a test waits a tick with it.
    rules: { '@lwc/lwc/no-unexpected-wire-adapter-usages': 'off', '@lwc/lwc/no-async-operation': 'off' },
  },
]);
