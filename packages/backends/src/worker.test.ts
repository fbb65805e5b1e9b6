import { describe, expect, it } from 'vitest';
import { builtWorkerUrl, startWorker } from './worker.js';

const script = (body: string) =>
  new URL(`data:text/javascript,${encodeURIComponent(`import { parentPort, workerData } from 'node:worker_threads';\n${body}`)}`);

describe('startWorker', () => {
  it("resolves on the worker's ready message, with the worker running", async () => {
    const { worker, ready } = await startWorker<{ type: 'ready'; echo: unknown }>(
      script(`parentPort.postMessage({ type: 'ready', echo: workerData }); parentPort.on('message', (m) => parentPort.postMessage(m * 2));`),
      21,
      'test worker',
    );
    expect(ready).toEqual({ type: 'ready', echo: 21 });
    const reply = new Promise((resolve) => worker.once('message', resolve));
    worker.postMessage(4);
    expect(await reply).toBe(8);
    await worker.terminate();
  });

  it("rejects with the worker's error message, or its crash, naming the worker", async () => {
    await expect(startWorker(script(`parentPort.postMessage({ type: 'error', message: 'no backend' });`), null, 'test worker')).rejects.toThrow(
      'test worker failed to start: no backend',
    );
    await expect(startWorker(script(`throw new Error('crashed');`), null, 'test worker')).rejects.toThrow('test worker failed to start: crashed');
  });

  it('finds the built entry beside a built module, and in dist/ from the sources', () => {
    expect(builtWorkerUrl('file:///p/dist/index.js', 'w.js', '../').href).toBe('file:///p/dist/w.js');
    expect(builtWorkerUrl('file:///p/src/parallel/two-thread.ts', 'w.js', '../../').href).toBe('file:///p/dist/w.js');
  });
});
