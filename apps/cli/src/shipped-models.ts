// The models that come with cutjs as packages (no download): `cutjs translate --model <name>`.
import { horse2zebraModelCard, horse2zebraModelDir } from '@cut/model-horse2zebra';

export interface ShippedModel {
  name: string;
  description: string;
  /** A run folder: train_opt.txt + latest_net_G.pth. */
  dir: string;
}

export function shippedModels(): ShippedModel[] {
  const card = horse2zebraModelCard();
  return [{ name: card.name, description: card.description, dir: horse2zebraModelDir }];
}

/** The shipped model `name`; a usage problem names the ones there are. */
export function shippedModel(name: string): ShippedModel | undefined {
  return shippedModels().find((m) => m.name === name);
}
