// ESLint for the TypeScript sources, benches and tests; formatting is Prettier's job (eslint-config-prettier turns off the rules it owns).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'src/serve/static/', 'test-artifacts/', 'src/schema/pipeline-validator.generated.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // a `??` or `?.` on a value that cannot be null is a default written twice or dead code
      '@typescript-eslint/no-unnecessary-condition': 'error',
      'no-console': 'error',
      // `const { at, ...rest } = x` drops a field from a copy; `for (const _ of s)` counts
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true, varsIgnorePattern: '^_$' }],
      // `async` states a Promise contract (a component's create/write, a Fastify plugin) and turns a
      // synchronous throw into a rejection; dropping it where nothing is awaited would change that
      '@typescript-eslint/require-await': 'off',
      // three control-flow signals are thrown on per-record hot paths, where an Error's stack costs
      // time: a record's Rejection or NeedsFallback, a translated expression's fallback and its pending jsonata error
      '@typescript-eslint/only-throw-error': [
        'error',
        {
          allow: [
            { from: 'file', name: ['Rejection', 'NeedsFallback'], path: 'src/engine/processor.ts' },
            { from: 'file', name: ['TranslationFallback', 'PendingError'], path: 'src/expr/runtime.ts' },
          ],
        },
      ],
      // node:test runs the promises test() and describe() return itself; awaiting them is not the idiom
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }] },
      ],
    },
  },
  { files: ['**/*.js', '**/*.cjs'], ...tseslint.configs.disableTypeChecked },
  // the stack's readiness probe is a CommonJS script run by plain node
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
  // Prettier wraps code at 140 but leaves comments and long messages alone: comments wrap by hand,
  // a user-facing message stays on one line so it can be found with grep
  {
    rules: {
      'max-len': ['error', { code: 140, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true }],
    },
  },
);
