// Jest configuration of the Lightning web component tests (@salesforce/sfdx-lwc-jest, run offline by
// `npm run test:lwc`). The middleware's jest.config.js at the root stays as it is.
const path = require('node:path');
const { jestConfig } = require('@salesforce/sfdx-lwc-jest/config');

module.exports = {
  ...jestConfig,
  rootDir: path.resolve(__dirname, '..'),
  roots: ['<rootDir>/force-app'],
  testMatch: ['**/lwc/**/__tests__/**/*.test.js'],
};
