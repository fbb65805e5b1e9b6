// One `cutjs translate` job (decode, generator, PNG), shared by the main thread and the worker
// thread that translates every other image with --threads 2.
import { decodeImage, normalizeImage, toChannels } from '@cut/trainer';
import { translateImage, type ImageGenerator } from './inference.js';
import { saveImage } from './png.js';

export interface TranslateJob {
  input: string;
  output: string;
}

export interface TranslateSettings {
  tile: number;
  overlap: number;
}

/** Translates one file into one PNG; returns the output size. */
export async function translateFile(G: ImageGenerator, inputNc: number, job: TranslateJob, settings: TranslateSettings): Promise<{ width: number; height: number }> {
  const raw = toChannels(await decodeImage(job.input), inputNc);
  const img = { data: normalizeImage(raw), width: raw.width, height: raw.height, channels: raw.channels };
  const out = await translateImage(G, img, settings);
  await saveImage(job.output, out.data, out.width, out.height, out.channels);
  return { width: out.width, height: out.height };
}
