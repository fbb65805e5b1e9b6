// The second thread of `cutjs translate --threads 2`: its own backend and copy of the generator,
// translating the jobs the main thread sends, one at a time.
import { parentPort, workerData } from 'node:worker_threads';
import { loadBackend, type BackendChoice } from '@cut/backends';
import { loadGenerator } from './checkpoint.js';
import { translateFile, type TranslateJob, type TranslatedSize, type TranslateSettings } from './translate-job.js';

export interface TranslateWorkerData {
  backend: BackendChoice;
  checkpoint: string;
  epoch: string;
  overrides: Array<[string, string]>;
  settings: TranslateSettings;
}

export type TranslateWorkerReply =
  | { type: 'ready' }
  | { type: 'stage'; done: number; total: number }
  | ({ type: 'done' } & TranslatedSize)
  | { type: 'error'; message: string };

const port = parentPort!;
const data = workerData as TranslateWorkerData;

async function start(): Promise<void> {
  await loadBackend(data.backend);
  const loaded = await loadGenerator(data.checkpoint, { epoch: data.epoch, overrides: new Map(data.overrides), note: () => undefined });
  let queue = Promise.resolve();
  port.on('message', (job: TranslateJob | null) => {
    if (job === null) {
      loaded.G.dispose();
      port.close();
      return;
    }
    queue = queue.then(async () => {
      try {
        const onStage = (done: number, total: number) => port.postMessage({ type: 'stage', done, total } satisfies TranslateWorkerReply);
        port.postMessage({
          type: 'done',
          ...(await translateFile(loaded.G, loaded.inputNc, job, data.settings, onStage)),
        } satisfies TranslateWorkerReply);
      } catch (e) {
        port.postMessage({ type: 'error', message: (e as Error).message } satisfies TranslateWorkerReply);
      }
    });
  });
  port.postMessage({ type: 'ready' } satisfies TranslateWorkerReply);
}

start().catch((e: Error) => port.postMessage({ type: 'error', message: e.message } satisfies TranslateWorkerReply));
