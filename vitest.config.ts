import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'tools/**/*.test.ts'],
    // The container suite has its own command and config (vitest.container.config.ts).
    exclude: [...configDefaults.exclude, 'test/container/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Most files spend their time waiting on real processes (agents, simulated Envoys, timers of a
    // few hundred ms), not computing: on a 2-core machine vitest's default of one worker per core
    // but one ran them one after the other.
    maxWorkers: 3,
  },
});
