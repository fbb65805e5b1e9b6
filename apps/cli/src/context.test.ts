import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Context } from './context.js';

/** A stream whose reader went away: every write fails with EPIPE, as an 'error' event (process.stdout does). */
function closedPipe() {
  const stream = Object.assign(new EventEmitter(), {
    write(_text: string) {
      const e = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
      queueMicrotask(() => stream.emit('error', e));
      return false;
    },
  });
  return stream;
}

describe('Context', () => {
  it('a standard output that closed before anyone listened (`| true`) is reported to a later listener, once', async () => {
    const ctx = new Context({ stdout: closedPipe(), stderr: { write: () => true } });
    ctx.print('data: 2 images'); // the first line, long before training starts
    await Promise.resolve();
    expect(ctx.stdoutClosed).toBe('EPIPE');
    const heard: string[] = [];
    ctx.onStdoutClosed((why) => heard.push(why));
    ctx.print('train: ...'); // dropped, and no second report
    await Promise.resolve();
    expect(heard).toEqual(['EPIPE']);
    ctx.close();
  });

  it('a listener subscribed before the pipe closes hears it once', async () => {
    const ctx = new Context({ stdout: closedPipe(), stderr: { write: () => true } });
    const heard: string[] = [];
    const undo = ctx.onStdoutClosed((why) => heard.push(why));
    ctx.print('a');
    ctx.print('b');
    await Promise.resolve();
    expect(heard).toEqual(['EPIPE']);
    undo();
    ctx.close();
  });
});
