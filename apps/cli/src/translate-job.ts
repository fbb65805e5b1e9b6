// One `cutjs translate` job (decode, generator, PNG), shared by the main thread and the worker
// thread that translates every other image with --threads 2.
import { decodeImage, normalizeImage, toChannels } from '@cut/trainer';
import { translateImage, type ImageGenerator } from '@cut/networks';
import { saveImage } from './png.js';

export interface TranslateJob {
  input: string;
  output: string;
}

export interface TranslateSettings {
  /** Tile side in pixels; 0: whole images; 'auto': tiles for images above AUTO_TILE_PIXELS. */
  tile: number | 'auto';
}

/** Above this many pixels, `--tile auto` tiles: a whole 1024x1024 forward of the default generator needs ~2.8 GB of wasm's 4 GiB heap. */
export const AUTO_TILE_PIXELS = 1024 * 1024;
/** The tile `--tile auto` uses. */
export const AUTO_TILE = 512;

/** The tile side for an image of this size (0: whole). */
export function tileFor(settings: TranslateSettings, width: number, height: number): number {
  if (settings.tile !== 'auto') return settings.tile;
  return width * height > AUTO_TILE_PIXELS ? AUTO_TILE : 0;
}

/** Translates one file into one PNG; returns the output size and the tile used (0: whole). `onStage`: progress of a tiled translation. */
export async function translateFile(
  G: ImageGenerator,
  inputNc: number,
  job: TranslateJob,
  settings: TranslateSettings,
  onStage?: (done: number, total: number) => void,
): Promise<TranslatedSize> {
  const raw = toChannels(await decodeImage(job.input), inputNc);
  const img = { data: normalizeImage(raw), width: raw.width, height: raw.height, channels: raw.channels };
  // `auto` tiles only generators that run in tiles; an explicit --tile on another is refused by translateImage.
  const tile = settings.tile === 'auto' && !G.sizing.tiled ? 0 : tileFor(settings, img.width, img.height);
  const out = await translateImage(G, img, { tile, onStage });
  await saveImage(job.output, out.data, out.width, out.height, out.channels);
  return { width: out.width, height: out.height, tile: tile && (img.width > tile || img.height > tile) ? tile : 0 };
}

export interface TranslatedSize {
  width: number;
  height: number;
  /** The tile side used; 0 when the image was translated whole. */
  tile: number;
}
