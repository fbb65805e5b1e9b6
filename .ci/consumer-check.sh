#!/usr/bin/env bash
# Consumer check: the published shape of @cut/core-tensors and @cut/nce-loss works for a
# plain npm user. Builds and packs both packages, installs the tarballs (plus tfjs-core
# and the cpu backend, nothing else) into an empty folder outside the workspace, and
# computes a PatchNCE loss and its gradient from ESM (.mjs) and CommonJS (.cjs), checking
# them against PyTorch's numbers for the golden case patchnce_b1_np4_d8
# (fixtures/golden/patchnce_dim8.json, negatives from the same image).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/cut-consumer.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
TFJS_VERSION=4.22.0

echo "== build"
cd "$ROOT"
pnpm --filter @cut/core-tensors --filter @cut/nce-loss build

echo "== pack"
mkdir -p "$WORK/tarballs"
for pkg in core-tensors nce-loss; do
  (cd "$ROOT/packages/$pkg" && pnpm pack --pack-destination "$WORK/tarballs" >/dev/null)
done
ls "$WORK/tarballs"

echo "== install into an empty project ($WORK/app)"
mkdir "$WORK/app"
cd "$WORK/app"
npm init -y >/dev/null
npm install --no-audit --no-fund --loglevel=error \
  "$WORK"/tarballs/cut-core-tensors-*.tgz \
  "$WORK"/tarballs/cut-nce-loss-*.tgz \
  "@tensorflow/tfjs-core@$TFJS_VERSION" \
  "@tensorflow/tfjs-backend-cpu@$TFJS_VERSION"

# The golden case: feat_q, feat_k [4, 8] (one image, 4 patches), τ = 0.07, and PyTorch's
# per-row loss and d(mean loss)/d feat_q.
cat > golden.json <<'EOF'
{
  "featQ": [0.33739212, 0.27719223, 0.3339388, -0.39151996, 0.14251049, -0.23197706, -0.529488, 0.43594483, -0.4586425, 0.39274937, -0.07927567, -0.31075665, -0.27478018, -0.11442898, 0.2622511, 0.61250865, 0.17008944, 0.51194173, -0.59026283, 0.5206744, -0.17043367, 0.042813156, 0.11718977, -0.2117998, 0.30257306, 0.009224326, -0.5327325, 0.22594054, -0.08456976, 0.4005491, -0.63634956, 0.031289626],
  "featK": [0.034707148, -0.17806557, 0.2908284, 0.7020659, 0.04063688, -0.26475462, -0.49772185, 0.26483384, -0.18337727, 0.6488958, -0.15692328, 0.34756678, -0.2939903, -0.55617166, -0.041967068, 0.04859009, 0.42493495, -0.19936022, 0.08866276, -0.063933745, 0.47025385, 0.21544646, -0.22732946, 0.66970336, 0.4601325, 0.274376, -0.092008166, 0.30234188, -0.4670434, 0.098911434, -0.62054306, -0.011535364],
  "loss": [4.909447, 0.0013606823, 13.559974, 0.0022421954],
  "lossMean": 4.618256092071533,
  "gradQ": [1.3851353, -0.031242311, -0.73339057, -2.6818824, 1.4375808, 1.6901746, 0.92387956, 1.3730413, 0.0028849724, -0.003956601, 0.0011740646, -0.0017174629, 0.0033091279, 0.0036088102, -0.0010874018, 0.0027046306, -1.9042164, 2.8729544, -0.84980273, 1.4509777, -2.8013935, -2.4825892, 0.42062366, -2.243206, -0.001337612, -0.0036951562, 0.0019670767, -0.0008920635, 0.006330478, -0.00036838028, 0.002440863, 0.004353902]
}
EOF

cat > check.mjs <<'EOF'
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { activateBackend } from '@cut/core-tensors';
import { patchNCELoss } from '@cut/nce-loss';

const golden = JSON.parse(readFileSync(new URL('./golden.json', import.meta.url), 'utf8'));
await activateBackend('cpu');
const q = tf.tensor2d(golden.featQ, [4, 8]);
const k = tf.tensor2d(golden.featK, [4, 8]);
const opts = { batchSize: 1, temperature: 0.07 };
const loss = await patchNCELoss(q, k, opts).data();
const grad = await tf.grad((x) => tf.mean(patchNCELoss(x, k, opts)))(q).data();
const dev = (a, b) => Math.max(...b.map((v, i) => Math.abs(a[i] - v)));
const dLoss = dev(loss, golden.loss);
const dGrad = dev(grad, golden.gradQ);
console.log(`esm: loss [${Array.from(loss, (v) => v.toFixed(6))}] (max |Δ| ${dLoss.toExponential(2)}), grad max |Δ| ${dGrad.toExponential(2)}`);
if (!(dLoss <= 1e-5 && dGrad <= 1e-5)) {
  console.error('esm: MISMATCH against PyTorch');
  process.exit(1);
}
EOF

cat > check.cjs <<'EOF'
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const { activateBackend } = require('@cut/core-tensors');
const { patchNCELoss } = require('@cut/nce-loss');
const golden = require('./golden.json');

async function main() {
  await activateBackend('cpu');
  const q = tf.tensor2d(golden.featQ, [4, 8]);
  const k = tf.tensor2d(golden.featK, [4, 8]);
  const opts = { batchSize: 1, temperature: 0.07 };
  const mean = await tf.mean(patchNCELoss(q, k, opts)).data();
  const grad = await tf.grad((x) => tf.mean(patchNCELoss(x, k, opts)))(q).data();
  const dMean = Math.abs(mean[0] - golden.lossMean);
  const dGrad = Math.max(...golden.gradQ.map((v, i) => Math.abs(grad[i] - v)));
  console.log(`cjs: mean loss ${mean[0].toFixed(6)} (|Δ| ${dMean.toExponential(2)}), grad max |Δ| ${dGrad.toExponential(2)}`);
  if (!(dMean <= 1e-5 && dGrad <= 1e-5)) throw new Error('cjs: MISMATCH against PyTorch');
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
EOF

echo "== run"
node check.mjs
node check.cjs
echo "consumer check passed"
