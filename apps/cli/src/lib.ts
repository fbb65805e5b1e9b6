// `import ... from '@cut/cli'`: the CLI as a library. Importing it runs nothing (the `cutjs`
// binary is dist/index.js, reached through `bin`).
export { main, EXIT, UsageError, type CliIO } from './main.js';
export { loadBackend, BACKENDS, type BackendChoice, type BackendInfo } from '@cut/backends';
