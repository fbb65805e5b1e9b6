// @cut/demo-data: the horse2zebra demo photos as files on disk, found from this module's own
// location so they work wherever the package is installed.
import { fileURLToPath } from 'node:url';

/**
 * Absolute path of the demo dataset folder (`trainA`, `trainB`, `testA`, `testB`: 24 + 24 + 5 + 5
 * horse and zebra photos from horse2zebra, 256x256 JPEG), the layout `cutjs train --dataroot` reads.
 */
export const horse2zebraDemo: string = fileURLToPath(new URL('./horse2zebra_demo', import.meta.url));

/** Absolute path of the photos' source, attribution and terms of use (ImageNet: non-commercial research and teaching only). */
export const horse2zebraDemoSource: string = fileURLToPath(new URL('./horse2zebra_demo/SOURCE.md', import.meta.url));
