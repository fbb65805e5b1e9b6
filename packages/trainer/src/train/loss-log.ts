// The reference's console/`loss_log.txt` formats (util/visualizer.py, train.py).

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Local time as C's `strftime("%c")` in the C locale: `Sat Nov 28 06:45:50 2026`. */
export function cTime(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  const time = `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
  return `${DAYS[date.getDay()]} ${MONTHS[date.getMonth()]} ${String(date.getDate()).padStart(2, ' ')} ${time} ${date.getFullYear()}`;
}

/** The line the reference appends to `loss_log.txt` whenever a run (or a resumed run) starts. */
export function lossLogHeader(date: Date): string {
  return `================ Training Loss (${cTime(date)}) ================`;
}

/**
 * Python's `'%.<digits>f' % x`: the exact binary value rounded to `digits` decimals, exact
 * ties to even (JavaScript's toFixed sends ties up: 0.0625 → '0.063', Python '0.062').
 */
export function pyFixed(x: number, digits: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const plain = x.toFixed(digits);
  // toFixed(100) is the exact expansion for every double of a magnitude that can tie here.
  const exact = Math.abs(x).toFixed(100);
  const point = exact.indexOf('.');
  const rest = exact.slice(point + 1 + digits);
  if (rest[0] !== '5' || /[^0]/.test(rest.slice(1))) return plain;
  // An exact tie: toFixed rounded away from zero; go to the even neighbour instead.
  const kept = exact.slice(0, point + 1 + digits).replace('.', '');
  const lastDigit = Number(kept[kept.length - 1]);
  if (lastDigit % 2 === 1) return plain; // away from zero already gives the even one
  const truncated = exact.slice(0, digits > 0 ? point + 1 + digits : point);
  return (x < 0 ? '-' : '') + truncated;
}

/**
 * One `print_current_losses` line: `(epoch: 1, iters: 100, time: 0.662, data: 0.013) G_GAN: 0.383 ... `
 * (`iters` counts images within the epoch; `time` and `data` are seconds per image; every loss
 * followed by one space, the trailing one included).
 */
export function formatLossLine(epoch: number, iters: number, timePerImage: number, dataTime: number, losses: Record<string, number>): string {
  let line = `(epoch: ${epoch}, iters: ${iters}, time: ${pyFixed(timePerImage, 3)}, data: ${pyFixed(dataTime, 3)}) `;
  for (const [name, value] of Object.entries(losses)) line += `${name}: ${pyFixed(value, 3)} `;
  return line;
}
