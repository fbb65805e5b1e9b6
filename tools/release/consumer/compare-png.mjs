// Usage: node compare-png.mjs <dir A> <dir B> <max grey levels | info>
// Compares the PNGs of A with the same-named PNGs of B, pixel by pixel (8-bit RGB), prints the
// largest and mean absolute difference per image and overall, and fails above the limit
// ('info' only prints). Uses the sharp that @cut/cli installed.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

const [a, b, limitArg] = process.argv.slice(2);
const limit = limitArg === 'info' ? Infinity : Number(limitArg);
const rgb = (file) => sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
const names = readdirSync(a)
  .filter((f) => f.endsWith('.png'))
  .sort();
if (names.length === 0) throw new Error(`compare-png: no PNG in ${a}`);
let worst = 0;
let total = 0;
let count = 0;
for (const name of names) {
  const [x, y] = await Promise.all([rgb(join(a, name)), rgb(join(b, name))]);
  if (x.info.width !== y.info.width || x.info.height !== y.info.height) {
    throw new Error(`compare-png: ${name}: ${x.info.width}x${x.info.height} vs ${y.info.width}x${y.info.height}`);
  }
  let max = 0;
  let sum = 0;
  for (let i = 0; i < x.data.length; i++) {
    const d = Math.abs(x.data[i] - y.data[i]);
    if (d > max) max = d;
    sum += d;
  }
  console.log(`  ${name} ${x.info.width}x${x.info.height}: max |Δ| ${max}, mean |Δ| ${(sum / x.data.length).toFixed(6)} grey levels`);
  worst = Math.max(worst, max);
  total += sum;
  count += x.data.length;
}
console.log(
  `  ${names.length} images: max |Δ| ${worst}, mean |Δ| ${(total / count).toFixed(6)} grey levels${limit === Infinity ? '' : ` (limit ${limit})`}`,
);
if (worst > limit) {
  console.error(`compare-png: ${a} and ${b} differ by ${worst} grey levels, more than ${limit}`);
  process.exit(1);
}
