/**
 * Builds the images once for the container suite and removes them (and every container the suite
 * started) at the end, whether the tests passed or not.
 */
import type { TestProject } from 'vitest/node';
import { type BuiltImages, buildImages, removeImages } from '../helpers/container.js';

declare module 'vitest' {
  export interface ProvidedContext {
    images: BuiltImages;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (line: string) => process.stderr.write(`[container images] ${line}\n`);
  const images = await buildImages({ log });
  const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
  log(
    `base ${images.base}${images.baseIsStandIn ? ' (stand-in)' : ''} ${mb(images.sizes.base)} MB; ` +
      `agent +${mb(images.sizes.agent - images.sizes.base)} MB, sidecar +${mb(images.sizes.sidecar - images.sizes.base)} MB`,
  );
  project.provide('images', images);
  return async () => {
    await removeImages(images);
    log('removed the images and containers of this run');
  };
}
