// Reading chosen regular files out of a tar archive (POSIX ustar, with GNU long names and pax
// path records, as GNU tar and Python's tarfile write them). Every header's checksum is checked,
// and an archive that ends early is an error, so a damaged download is never taken for a model.
import { open } from 'node:fs/promises';

const BLOCK = 512;
/** The largest entry read into memory (the authors' generators are ~45 MB). */
const MAX_ENTRY_BYTES = 1 << 30;

const text = (b: Uint8Array) => {
  const end = b.indexOf(0);
  return new TextDecoder().decode(end < 0 ? b : b.subarray(0, end));
};

/** A numeric header field: octal text, or base-256 when the first byte's high bit is set. */
function number(field: Uint8Array): number {
  if (field[0]! & 0x80) {
    let n = field[0]! & 0x7f;
    for (const b of field.subarray(1)) n = n * 256 + b;
    return n;
  }
  const s = text(field).trim();
  return s === '' ? 0 : parseInt(s, 8);
}

/** The path records of a pax extended header ("<len> path=<value>\n"). */
function paxPath(data: Uint8Array): string | undefined {
  let path: string | undefined;
  for (const record of new TextDecoder().decode(data).split('\n')) {
    const m = /^\d+ path=(.*)$/.exec(record);
    if (m) path = m[1];
  }
  return path;
}

/**
 * Calls `onEntry` with the bytes of every regular file whose path `wanted` accepts, in archive
 * order. Other entries (folders, links, files not wanted) are skipped without being read.
 */
export async function readTarEntries(
  file: string,
  wanted: (path: string) => boolean,
  onEntry: (path: string, data: Uint8Array) => void,
): Promise<void> {
  const fh = await open(file, 'r');
  try {
    const { size: fileSize } = await fh.stat();
    const read = async (offset: number, length: number, what: string): Promise<Uint8Array> => {
      if (offset + length > fileSize) throw new Error(`${file}: the tar archive ends inside ${what} (truncated at ${fileSize} bytes)`);
      const buf = new Uint8Array(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      if (bytesRead !== length) throw new Error(`${file}: short read inside ${what}`);
      return buf;
    };
    let offset = 0;
    let longName: string | undefined;
    for (;;) {
      const header = await read(offset, BLOCK, 'a header');
      if (header.every((b) => b === 0)) return; // end of archive
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
      if (sum !== number(header.subarray(148, 156)))
        throw new Error(`${file}: bad tar header checksum at byte ${offset} (a damaged download, or not a tar archive)`);
      const size = number(header.subarray(124, 136));
      const type = String.fromCharCode(header[156]!);
      const prefix = text(header.subarray(257, 263)).startsWith('ustar') ? text(header.subarray(345, 500)) : '';
      const name = longName ?? (prefix ? `${prefix}/${text(header.subarray(0, 100))}` : text(header.subarray(0, 100)));
      const dataAt = offset + BLOCK;
      offset = dataAt + Math.ceil(size / BLOCK) * BLOCK;
      if (type === 'L' || type === 'x') {
        if (size > 1 << 20) throw new Error(`${file}: a ${size}-byte name record at byte ${dataAt - BLOCK}`);
        const data = await read(dataAt, size, 'a name record');
        longName = type === 'L' ? text(data) : (paxPath(data) ?? longName);
        continue;
      }
      longName = undefined;
      if ((type === '0' || type === '\0') && wanted(name)) {
        if (size > MAX_ENTRY_BYTES) throw new Error(`${file}: ${name} claims ${size} bytes`);
        onEntry(name, await read(dataAt, size, name));
      } else if (offset > fileSize) {
        throw new Error(`${file}: the tar archive ends inside ${name} (truncated at ${fileSize} bytes)`);
      }
    }
  } finally {
    await fh.close();
  }
}
