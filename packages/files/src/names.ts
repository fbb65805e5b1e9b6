// Option values that become one file or folder name (a run, an epoch, a phase) must stay one.

/** A single file or folder name: not empty, not '.' or '..', no path separator or NUL. */
export function isPlainName(value: string): boolean {
  return value !== '' && value !== '.' && value !== '..' && !/[/\\\0]/.test(value);
}
