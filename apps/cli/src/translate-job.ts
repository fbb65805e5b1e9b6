// One `cutjs translate` job (decode, generator, PNG), shared by the main thread and the worker
// thread that translates every other image with --threads 2.
import { decodeImage, saveImage } from '@cut/files';
import { normalizeImage, toChannels } from '@cut/images';
import { generatorTileFacts, tileFor, translateImage, type Generator } from '@cut/networks';
import type { OnnxGenerator } from '@cut/networks';

export interface TranslateJob {
  input: string;
  output: string;
}

export interface TranslateSettings {
  /** Tile side in pixels; 0: whole images; 'auto': `tileFor` of @cut/networks decides. */
  tile: number | 'auto';
  /** The backend's name, which 'auto' weighs (with the generator's own facts). */
  backend: string;
}

/**
 * Translates one file into one PNG; returns the output size and the tile used (0: whole).
 * `onStage`: progress of a tiled translation. With `onnx` (`--runtime onnx`) the same decoding,
 * tile rule, padding and PNG run through ONNX Runtime: whole images as one ONNX model, tiled ones
 * stage by stage (each stage exported on its own, `forwardTiled`'s stages and halos).
 */
export async function translateFile(
  G: Generator,
  inputNc: number,
  job: TranslateJob,
  settings: TranslateSettings,
  onStage?: (done: number, total: number) => void,
  onnx?: OnnxGenerator,
): Promise<TranslatedSize> {
  const raw = toChannels(await decodeImage(job.input), inputNc);
  const img = { data: normalizeImage(raw), width: raw.width, height: raw.height, channels: raw.channels };
  const tile = tileFor(img.width, img.height, settings.tile, { ...generatorTileFacts(G), backend: settings.backend });
  const tiled = tile > 0 && (img.width > tile || img.height > tile);
  const out =
    onnx && !tiled ? await onnx.translate(img) : await translateImage(G, img, { tile, onStage, ...(onnx ? { runStage: onnx.stageRunner() } : {}) });
  await saveImage(job.output, out.data, out.width, out.height, out.channels);
  return { width: out.width, height: out.height, tile };
}

export interface TranslatedSize {
  width: number;
  height: number;
  /** The tile side used; 0 when the image was translated whole. */
  tile: number;
}
