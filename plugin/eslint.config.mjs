import { defineConfig } from 'eslint/config';
import baseConfig from './.config/eslint.config.mjs';

// The scaffolded base (.config/ is owned by `npx @grafana/create-plugin update`, never edited),
// then what this project adds.
export default defineConfig([
  {
    ignores: ['dist/', 'coverage/', '**/node_modules/', 'pkg/', '.config/', '**/*.js', '**/*.mjs'],
  },
  ...baseConfig,
  {
    files: ['src/**/*.{ts,tsx}'],
    languageOptions: {
      parserOptions: {
        tsconfigRootDir: import.meta.dirname,
      },
    },
  },
  {
    // Test doubles implement Grafana's whole interfaces, deprecated members included.
    files: ['src/test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-deprecated': 'off',
    },
  },
]);
