// Lint rules: ESLint's and typescript-eslint's recommended sets, run by `npm test` (npm run lint).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['dist/', 'node_modules/', 'models/', 'test/fixtures/', 'model/.cache/', '.device-carry/', '.gl/', 'coverage/', '**/*.tmp.*'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Tests and debugging scripts read untyped JSON and deliberately send malformed values.
    files: ['test/**', 'scripts/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['scripts/compare-ort-builds.mjs'],
    languageOptions: { globals: { ...globals.browser } },
  },
);
