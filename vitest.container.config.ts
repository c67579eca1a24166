import { defineConfig } from 'vitest/config';

/**
 * `npm run test:container`: the container image, built from the real Dockerfile and run with
 * podman (test/container/). Not part of `npm test`: it needs root, podman and a few minutes.
 */
export default defineConfig({
  test: {
    include: ['test/container/**/*.test.ts'],
    globalSetup: ['test/container/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['verbose'],
  },
});
