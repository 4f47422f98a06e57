import grafanaConfig from '@grafana/eslint-config';

export default [
  {
    ignores: ['dist/', 'coverage/', 'node_modules/', 'pkg/', '.config/', '**/*.js', '**/*.mjs'],
  },
  ...grafanaConfig,
  {
    rules: {
      'react/prop-types': 'off',
    },
  },
  {
    files: ['src/**/*.{ts,tsx}'],
    languageOptions: {
      parserOptions: {
        project: './tsconfig.json',
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-deprecated': 'warn',
    },
  },
  {
    // Test doubles implement Grafana's whole interfaces, deprecated members included.
    files: ['src/test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-deprecated': 'off',
    },
  },
];
