// ESLint flat config: @eslint/js and typescript-eslint recommended rules for the TypeScript
// sources and tests, the plain-JavaScript fixtures, scripts, examples and benchmarks.
// Formatting is Prettier's job (.prettierrc.json), not ESLint's. Rules are tuned per file
// group below with the reason next to each; there are no blanket disables.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      'dist/**',
      'dist.*/**',
      'build/**',
      'build-*/**',
      'prebuilds/**',
      'benchmarks/results/**',
      '.tap/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `_`-prefixed names are deliberately unused (callback positions, destructuring).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      // Every comparison means what it says.
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // `catch {}` is how the code says "ignore this failure" (each has a comment or is obvious).
      'no-empty': ['error', { allowEmptyCatch: true }],
      'prefer-const': 'error',
      'no-var': 'error',
    },
  },
  {
    files: ['**/*.ts', '**/*.mts', '**/*.cts'],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    // CommonJS JavaScript: scripts, fixtures, examples, benchmarks.
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
    rules: {
      // CommonJS files load modules with require(); that is not an error here.
      '@typescript-eslint/no-require-imports': 'off',
      // `const crypto = require('node:crypto')` in a module scope shadows Node's global of the
      // same name on purpose; redeclaring a user binding is still an error.
      'no-redeclare': ['error', { builtinGlobals: false }],
    },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: { ...globals.node } },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Tests reach into internals and feed deliberately wrong types (`as never`, `as any`) to
      // check the runtime validation that TypeScript users cannot hit.
      '@typescript-eslint/no-explicit-any': 'off',
      // pcall targets written inline in a test travel to the child as source text and run there
      // as CommonJS: they can only load modules with require(); tests also load dist/ lazily.
      '@typescript-eslint/no-require-imports': 'off',
      // The CLI tests match terminal colour escapes (\x1b[...m) on purpose.
      'no-control-regex': 'off',
    },
  },
);
