// Lint the middleware with typescript-eslint's recommended rules; `npm run typecheck` does the type gate.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'force-app/**', 'middleware/bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['middleware/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['warn', 'error'] }],
    },
  },
  {
    files: ['middleware/src/cli/**/*.ts', 'middleware/bench/**/*.ts', 'middleware/test/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
