// The results page of the reference's test.py (`util/html.py`): a title, then for each image a
// header with its name and one table row of links to real_A, fake_B and real_B.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface PageRow {
  /** The image's name (header). */
  header: string;
  /** Paths relative to the page, with their labels. */
  images: Array<{ path: string; label: string }>;
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const url = (p: string) => p.split('/').map(encodeURIComponent).join('/');

/** The page's HTML. `width` is each image's display width in pixels (the reference's display_winsize). */
export function resultsPage(title: string, rows: readonly PageRow[], width: number): string {
  const body = rows
    .map((row) => {
      const cells = row.images
        .map(
          (im) =>
            `      <td style="word-wrap: break-word;" halign="center" valign="top"><p><a href="${escapeHtml(url(im.path))}">` +
            `<img style="width:${width}px" src="${escapeHtml(url(im.path))}"></a><br><p>${escapeHtml(im.label)}</p></p></td>`,
        )
        .join('\n');
      return `  <h3>${escapeHtml(row.header)}</h3>\n  <table border="1" style="table-layout: fixed;">\n    <tr>\n${cells}\n    </tr>\n  </table>`;
    })
    .join('\n');
  return `<!DOCTYPE html>\n<html>\n<head>\n  <meta charset="utf-8">\n  <title>${escapeHtml(title)}</title>\n</head>\n<body>\n${body}\n</body>\n</html>\n`;
}

/** Writes `<dir>/index.html` (atomically). */
export async function writeResultsPage(dir: string, title: string, rows: readonly PageRow[], width: number): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'index.html');
  await writeFile(`${file}.tmp`, resultsPage(title, rows, width));
  await rename(`${file}.tmp`, file);
  return file;
}
