import js from '@eslint/js';
import globals from 'globals';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

// Browser globals that must never appear in service/ (plain Node): the service runs
// headless, so a DOM reference there is a bug that only shows on an appliance.
const domGlobals = ['window', 'document', 'navigator', 'localStorage', 'sessionStorage', 'HTMLElement', 'location', 'alert'].map((name) => ({
  name,
  message: 'service/ runs on plain Node: no DOM globals.',
}));

const noElectron = {
  name: 'electron',
  message: 'Only electron/ may import electron; keep service/ and renderer/ runnable without it.',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'release/**', 'test-results/**', 'coverage/**', '**/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    files: ['service/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', ...domGlobals],
      '@typescript-eslint/no-restricted-imports': ['error', { paths: [noElectron], patterns: [{ group: ['electron/*'], message: noElectron.message }] }],
    },
  },
  {
    files: ['renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [noElectron],
          patterns: [
            { group: ['node:*'], message: 'renderer/ is browser code: no Node built-ins.' },
            {
              regex: '(^|/)service/(?!(.*/)?contract(\\.js)?$)',
              message: 'renderer/ may import only API contracts from service/, and only as types.',
            },
            {
              group: ['**/service/**/contract', '**/service/**/contract.js'],
              allowTypeImports: true,
              message: 'Import API contracts with `import type`: the runtime schemas stay in the service.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.{ts,mjs,js}', 'build/**/*.{mjs,js}', '*.config.{ts,js}', 'bin/**/*.js'],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    files: ['electron/**/*.ts'],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
  {
    files: ['**/*.{ts,tsx,js,mjs}'],
    ignores: ['electron/**', 'test/electron-logic/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [noElectron] }],
    },
  },
);
