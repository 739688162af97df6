// ESLint for the code: typescript-eslint's recommended rules on every .ts and .mjs file, and its
// type-aware ones on the TypeScript, as one program (tsconfig.test.json: src/ and test/); the
// whole lint takes about 20 s on 2 cores. Formatting is Prettier's business, not ESLint's.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', '.tap/', 'coverage/', 'node_modules/'] },
  {
    files: ['**/*.ts', '**/*.mjs'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: { globals: globals.node },
    rules: {
      // A leading underscore marks a name kept on purpose (a parameter a callback must take).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
      // Matching terminal control characters is the point of the terminal-safety code.
      'no-control-regex': 'off',
    },
  },
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { project: './tsconfig.test.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // tap runs and awaits the subtests t.test() starts: they are not left floating.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', name: 'test', package: '@tapjs/test' }] },
      ],
      // Async methods without await implement Promise-returning interfaces (Store, Outbox),
      // and async turns a throw into a rejection.
      '@typescript-eslint/require-await': 'off',
    },
  },
);
