#!/usr/bin/env bash
# Release check (`pnpm release:check`): the packages as npm will publish them work for a user who
# installs them with npm, outside this repository.
#
#  1. build, and pack every public workspace package with pnpm (workspace:* becomes the version)
#  2. publint and @arethetypeswrong/cli on each tarball
#  3. npm install all tarballs into a fresh folder under $TMPDIR (no workspace links, no ../shared)
#  4. there: the nce-loss, images and files README examples, PatchNCE against PyTorch from ESM and
#     CommonJS, a strict TypeScript consumer compiled and run, `cutjs --help`, `cutjs info`,
#     @cut/backends' default backend from ESM and CommonJS (one line, nothing of Dawn's on stderr),
#     `cutjs translate` of real photos with a real checkpoint (fixtures/checkpoints/h2z_tiny)
#     compared with the in-repo CLI, `cutjs export --format onnx` and `translate --runtime onnx`, the shipped horse2zebra model (`cutjs translate --model`), a
#     shortened `cutjs demo` (real photos from @cut/demo-data, real training, results page with the
#     shipped model's column), and `cutjs info` / `cutjs translate` on WebGPU (Mesa's software
#     Vulkan driver), compared with wasm.
#
# Every step's output goes to the log. Set CUT_RELEASE_KEEP=1 to keep the folder for a look.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/tools/release"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/cut-release.XXXXXX")"
if [[ -z ${CUT_RELEASE_KEEP:-} ]]; then trap 'rm -rf "$WORK"' EXIT; else echo "release check: keeping $WORK"; fi
TFJS_VERSION=4.22.0
started=$SECONDS
step() { echo; echo "== release check: $* ($((SECONDS - started)) s)"; }
pnpm() { npx -y pnpm@12.4.2 "$@"; }

step "build"
cd "$ROOT"
pnpm build --output-logs=errors-only

step "pack every public package"
mkdir -p "$WORK/tarballs"
for manifest in "$ROOT"/packages/*/package.json "$ROOT"/apps/*/package.json; do
  dir=$(dirname "$manifest")
  [[ $(node -p "require('$manifest').private === true") == true ]] && continue
  (cd "$dir" && pnpm pack --pack-destination "$WORK/tarballs" >/dev/null)
done
(cd "$WORK/tarballs" && ls -l ./*.tgz)

step "publint and @arethetypeswrong/cli on each tarball"
for tgz in "$WORK"/tarballs/*.tgz; do
  echo "-- $(basename "$tgz")"
  "$ROOT/node_modules/.bin/publint" run --strict "$tgz"
  # A package without a `require` condition is ESM-only on purpose (the CLI; Node >= 20.19
  # can still require() it): judge it by the esm-only profile.
  profile=strict
  if ! tar -xOzf "$tgz" package/package.json | node -e 'const p = JSON.parse(require("fs").readFileSync(0, "utf8")); process.exit(p.exports?.["."]?.require ? 0 : 1)'; then
    profile=esm-only
  fi
  "$ROOT/node_modules/.bin/attw" --profile "$profile" --format ascii --no-emoji --no-color "$tgz"
done

step "npm install the tarballs into an empty project ($WORK/app)"
mkdir "$WORK/app"
cd "$WORK/app"
npm init -y >/dev/null
cp "$HERE"/consumer/* .
# onnxruntime-node (an optional dependency of @cut/cli): its CPU build is in its package; the setting
# its install script documents skips the CUDA add-on download (unreachable here), as the CLI README says.
ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --loglevel=error "$WORK"/tarballs/*.tgz \
  "@tensorflow/tfjs-core@$TFJS_VERSION" "@tensorflow/tfjs-backend-cpu@$TFJS_VERSION" \
  typescript@5.9.3 @types/node@20.19.43
npm ls --depth=0
# Every @cut package must be a real copy inside this project, not a link into the workspace.
for dir in node_modules/@cut/*; do
  real=$(realpath "$dir")
  if [[ -L $dir || $real != "$WORK"/* ]]; then echo "release check: $dir resolves to $real, outside $WORK" >&2; exit 1; fi
done
echo "all of $(ls node_modules/@cut | paste -sd' ' -) installed from the tarballs under $WORK"

step "@cut/nce-loss README example (from the installed README)"
awk '/^```js$/ {on = 1; next} /^```$/ && on {exit} on' node_modules/@cut/nce-loss/README.md >readme-example.mjs
node readme-example.mjs

step "@cut/images and @cut/files README examples (from the installed READMEs)"
for pkg in images files; do
  awk '/^```js$/ {on = 1; next} /^```$/ && on {exit} on' "node_modules/@cut/$pkg/README.md" >"readme-$pkg.mjs"
  node "readme-$pkg.mjs"
done

step "PatchNCE against PyTorch from ESM and CommonJS (require)"
node patchnce-golden.mjs
node patchnce-golden.cjs

step "strict TypeScript consumer: compile (tsc, strict, NodeNext, lib check on), then run"
node_modules/.bin/tsc -p tsconfig.json
echo "tsc: no errors"
node out/consumer.mjs

step "cutjs --help"
npx --no -- cutjs --help

step "cutjs info"
npx --no -- cutjs info

step "@cut/backends: the default backend says one line and keeps Dawn's own output off stderr (ESM and CommonJS)"
err=$(npx --no -- cutjs info 2>&1 >/dev/null)
if [[ -n $err ]]; then echo "release check: cutjs info wrote to stderr: $err" >&2; exit 1; fi
node --input-type=module -e "const { loadBackend } = await import('@cut/backends'); console.log('esm: ' + (await loadBackend('auto')).summary)"
node -e "require('@cut/backends').loadBackend('auto').then((i) => console.log('cjs: ' + i.summary))"

step "cutjs translate: real photos, real checkpoint (h2z_tiny), packed CLI vs in-repo CLI (wasm)"
mkdir photos
cp "$ROOT"/fixtures/checkpoints/h2z_tiny/testA/*.jpg photos/
cp -r "$ROOT/fixtures/checkpoints/h2z_tiny" checkpoint
rm -rf checkpoint/expected checkpoint/testA
npx --no -- cutjs translate photos --checkpoint checkpoint --out out-wasm --backend wasm
(cd "$ROOT" && node apps/cli/dist/index.js translate "$WORK/app/photos" --checkpoint fixtures/checkpoints/h2z_tiny --out "$WORK/app/out-repo" --backend wasm)
echo "packed CLI vs in-repo CLI (must be identical):"
node compare-png.mjs out-wasm out-repo 0
echo "packed CLI vs PyTorch's test.py output (fixtures/checkpoints/h2z_tiny/expected, for information):"
node compare-png.mjs out-wasm "$ROOT/fixtures/checkpoints/h2z_tiny/expected/fake_B" info

step "cutjs export --format onnx and translate --runtime onnx (onnxruntime-node), packed CLI"
npx --no -- cutjs export --checkpoint checkpoint --format onnx --out G.onnx
node -e "const ort = require('onnxruntime-node'); ort.InferenceSession.create('G.onnx').then(async (s) => { const x = new ort.Tensor('float32', new Float32Array(2 * 3 * 64 * 48).fill(0.1), [2, 3, 64, 48]); const y = (await s.run({ input: x })).output; if (String(y.dims) !== '2,3,64,48') throw new Error('G.onnx gave ' + y.dims); console.log('G.onnx runs in onnxruntime-node: ' + y.dims); })"
npx --no -- cutjs translate photos --checkpoint checkpoint --out out-onnx --backend wasm --runtime onnx
echo "--runtime onnx vs tfjs (within 1 grey level):"
node compare-png.mjs out-onnx out-wasm 1

step "cutjs translate --model horse2zebra: the shipped model (@cut/model-horse2zebra), packed CLI vs in-repo CLI"
npx --no -- cutjs translate photos --model horse2zebra --out out-model --backend wasm
(cd "$ROOT" && node apps/cli/dist/index.js translate "$WORK/app/photos" --model horse2zebra --out "$WORK/app/out-model-repo" --backend wasm)
node compare-png.mjs out-model out-model-repo 0
npx --no -- cutjs pretrained list | head -1

step "cutjs demo, shortened (1 epoch of 4 photos; the bundled photos, training, test, results page)"
npx --no -- cutjs demo --n_epochs 1 --n_epochs_decay 0 --max_dataset_size 4 --backend wasm
page=results/horse2zebra_demo/test_latest/index.html
fakes=$(ls results/horse2zebra_demo/test_latest/images/fake_B | wc -l)
models=$(ls results/horse2zebra_demo/test_latest/images/horse2zebra_model | wc -l)
if [[ ! -s $page || $fakes -ne 4 || $models -ne 4 ]] || ! grep -q 'fake_B' "$page" || ! grep -q 'horse2zebra_model' "$page"; then
  echo "release check: demo left no results page with 4 translated images and 4 of the shipped model ($page, $fakes + $models images)" >&2
  exit 1
fi
echo "results page $WORK/app/$page ($fakes translated images)"

step "cutjs on WebGPU (Dawn for Node on Mesa's software Vulkan driver, lavapipe)"
if [[ ! -f $ROOT/.cache/vulkan/env.sh ]]; then bash "$ROOT/.ci/setup-webgpu.sh"; fi
(
  # shellcheck disable=SC1091
  source "$ROOT/.cache/vulkan/env.sh"
  npx --no -- cutjs info --backend webgpu
  # Two of the photos: lavapipe runs the generator at about 8 s per 256x256 image.
  npx --no -- cutjs translate photos/n02381460_1000.jpg photos/n02381460_120.jpg --checkpoint checkpoint --out out-webgpu --backend webgpu
)
echo "webgpu vs wasm (limit 1 grey level):"
node compare-png.mjs out-webgpu out-wasm 1

step "release check passed in $((SECONDS - started)) s"
