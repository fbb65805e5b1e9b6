import { Worker } from 'node:worker_threads';

/**
 * The built file of a worker entry: `dist/<file>` beside the calling module, or, when the caller
 * runs from its TypeScript sources (tests), the package's `dist/` found `fromSource` away.
 */
export function builtWorkerUrl(callerUrl: string, file: string, fromSource: string): URL {
  return callerUrl.endsWith('.ts') ? new URL(`${fromSource}dist/${file}`, callerUrl) : new URL(`./${file}`, callerUrl);
}

/**
 * Starts a worker thread and waits for its first message, which must be `{ type: 'ready' }`
 * (an `{ type: 'error', message }` or a crash rejects, naming `what`, and stops the worker).
 */
export async function startWorker<M extends { type: string }>(
  url: URL,
  workerData: unknown,
  what: string,
): Promise<{ worker: Worker; ready: Extract<M, { type: 'ready' }> }> {
  const worker = new Worker(url, { workerData });
  const ready = await new Promise<M>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', (e) => reject(new Error(`${what} failed to start: ${e.message}`, { cause: e })));
  });
  if (ready.type !== 'ready') {
    await worker.terminate();
    const message = (ready as { message?: unknown }).message;
    throw new Error(`${what} failed to start: ${typeof message === 'string' ? message : ready.type}`);
  }
  return { worker, ready: ready as Extract<M, { type: 'ready' }> };
}
