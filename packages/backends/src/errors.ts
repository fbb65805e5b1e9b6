/** Why a backend cannot run here: `message` in full, `brief` in a few words (for one line), and what native code printed meanwhile. */
export class BackendError extends Error {
  constructor(
    message: string,
    readonly brief: string,
    readonly output = '',
  ) {
    super(message);
    this.name = 'BackendError';
  }
}
