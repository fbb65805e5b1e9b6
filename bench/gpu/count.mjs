// GPU work of one CUT training iteration on webgpu (Dawn): compute dispatches, queue submits,
// uploads (queue.writeBuffer, buffers created mapped), readbacks (buffer.mapAsync for reading, and
// tfjs's tensor reads: dataSync / data), buffers created, and shader pipelines compiled, counted
// by wrapping the Dawn objects tfjs-backend-webgpu talks to. Any adapter does (the software one
// too): the counts are the same whatever runs the shaders.
//
//   node bench/gpu/count.mjs [--iters 4] [--crop 64] [--small] [--mode CUT|FastCUT] [--full-net] [--trace-uploads] [--tf-adam]
// (below crop 256 the networks are tiny, ngf 8, resnet_6blocks, unless --full-net: the defaults)
//
// after a build, with a Vulkan driver (`source .cache/vulkan/env.sh` for lavapipe). Iteration 1
// also compiles every shader and sets up F and Adam; the later ones show the steady state. One
// iteration = `CUTModel.optimizeParameters` (the step) and then `currentLosses` (the one read
// the training driver does, counted apart). Prints a table and one `@@{"event":"counts",...}` line.
import * as tf from '@tensorflow/tfjs-core';

const argv = process.argv.slice(2);
const value = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const SMALL = argv.includes('--small');
const iters = Number(value('--iters', 4));
const crop = Number(value('--crop', SMALL ? 32 : 64));
const mode = value('--mode', 'CUT');

// Inside the GPU bundle the packages are in node_modules; in the repository, their builds.
const load = async (name, path) => import(name).catch(() => import(new URL(path, import.meta.url).href));
const { activateBackend } = await load('@cut/core-tensors', '../../packages/core-tensors/dist/index.js');
const { BatchLoader, CUTModel, UnalignedDataset, validateOptions } = await load('@cut/trainer', '../../packages/trainer/dist/index.js');

// --trace-uploads: where the step's uploads come from (the last iteration's, by call site).
const TRACE = argv.includes('--trace-uploads');
const uploadSites = new Map();
let tracing = false;
const counts = {
  dispatches: 0,
  submits: 0,
  writeBuffer: 0,
  writeBufferBytes: 0,
  mappedAtCreation: 0,
  buffersCreated: 0,
  mapAsyncRead: 0,
  pipelines: 0,
  shaderModules: 0,
  tensorReads: 0,
};
const wrap = (obj, method, before) => {
  const original = obj[method];
  obj[method] = function (...args) {
    const result = original.apply(this, args);
    return before(result, args) ?? result;
  };
};

// Dawn as navigator.gpu, with the device it hands out instrumented (own properties on each object).
const dawn = await import('webgpu');
Object.assign(globalThis, dawn.globals);
const gpu = dawn.create([]);
wrap(gpu, 'requestAdapter', (promise) =>
  promise.then((adapter) => {
    if (!adapter) return adapter;
    wrap(adapter, 'requestDevice', (devicePromise) => devicePromise.then((device) => instrument(device)));
    return adapter;
  }),
);
if (globalThis.navigator) Object.defineProperty(globalThis.navigator, 'gpu', { value: gpu, configurable: true });
else globalThis.navigator = { gpu };

function instrument(device) {
  wrap(device, 'createBuffer', (buffer, [desc]) => {
    counts.buffersCreated++;
    if (desc.mappedAtCreation) {
      counts.mappedAtCreation++;
      if (TRACE && tracing) {
        // The first frame in our own code (or the optimizer) that asked for the upload.
        const frame =
          new Error().stack
            .split('\n')
            .slice(2)
            .find((l) => /packages\/|@cut\/|optimizer|adam/i.test(l)) ?? 'elsewhere';
        const key = frame
          .trim()
          .replace(/^at /, '')
          .replace(/\(?file:\/\/\S*\/(packages|node_modules)\//, '$1/');
        uploadSites.set(key, (uploadSites.get(key) ?? 0) + 1);
      }
    }
    wrap(buffer, 'mapAsync', (_, [modeBits]) => {
      if (modeBits & GPUMapMode.READ) counts.mapAsyncRead++;
    });
  });
  wrap(device, 'createShaderModule', () => void counts.shaderModules++);
  wrap(device, 'createComputePipeline', () => void counts.pipelines++);
  wrap(device, 'createComputePipelineAsync', () => void counts.pipelines++);
  wrap(device, 'createCommandEncoder', (encoder) => {
    wrap(encoder, 'beginComputePass', (pass) => {
      wrap(pass, 'dispatchWorkgroups', () => void counts.dispatches++);
    });
  });
  const queue = device.queue;
  wrap(queue, 'writeBuffer', (_, args) => {
    counts.writeBuffer++;
    counts.writeBufferBytes += args[4] ?? args[2].byteLength ?? 0;
  });
  wrap(queue, 'submit', () => void counts.submits++);
  // tfjs keeps its own reference to the queue: hand it the same (instrumented) object.
  Object.defineProperty(device, 'queue', { value: queue });
  return device;
}

await import('@tensorflow/tfjs-backend-webgpu');
await activateBackend('webgpu');
const backend = tf.backend();
if (backend.queue !== backend.device.queue) throw new Error('count.mjs: tfjs holds another queue object than the instrumented one');
wrap(backend, 'readSync', () => void counts.tensorReads++);
wrap(backend, 'read', () => void counts.tensorReads++);

const dataroot = new URL(`../../${value('--dataroot', null) ?? 'datasets/horse2zebra_demo'}`, import.meta.url).pathname;
const config = {
  CUT_mode: mode,
  dataroot,
  load_size: Math.round((crop * 286) / 256),
  crop_size: crop,
  seed: 0,
  ...(SMALL || (crop < 256 && !argv.includes('--full-net')) ? { ngf: 8, ndf: 8, netG: 'resnet_6blocks', netF_nc: 16, num_patches: 16 } : {}),
};
const opts = validateOptions(config, 'count');
const dataset = await UnalignedDataset.create(opts);
const model = new CUTModel(opts);
const loader = new BatchLoader(dataset, { seed: 1 });
const snapshot = () => ({ ...counts });
const diff = (a, b) => Object.fromEntries(Object.keys(a).map((k) => [k, b[k] - a[k]]));
const rows = [];
for (let i = 0; i < iters; i++) {
  const batch = await loader.next();
  const realA = tf.tensor4d(batch.A, batch.shapeA);
  const realB = tf.tensor4d(batch.B, batch.shapeB);
  // --tf-adam: tfjs's own Adam.applyGradients (what the trainer used before its constants were
  // made once), for the before/after counts. F's optimiser appears during iteration 1.
  if (argv.includes('--tf-adam')) {
    for (const net of ['G', 'D', 'F']) {
      const opt = model.optimizer(net);
      if (opt) opt.applyGradients = tf.AdamOptimizer.prototype.applyGradients;
    }
  }
  tracing = i === iters - 1;
  uploadSites.clear();
  const s0 = snapshot();
  const t0 = performance.now();
  model.optimizeParameters(realA, realB);
  const s1 = snapshot();
  tracing = false;
  await model.currentLosses();
  const s2 = snapshot();
  const seconds = (performance.now() - t0) / 1000;
  tf.dispose([realA, realB]);
  rows.push({ iteration: i + 1, step: diff(s0, s1), losses: diff(s1, s2), seconds, tensors: tf.memory().numTensors });
}
loader.close();
model.dispose();

const keys = Object.keys(counts);
console.log(`${mode}, crop ${crop}${config.ngf ? `, ngf ${config.ngf}` : ''}: per iteration (step = optimizeParameters; + losses = currentLosses)`);
console.log(['iteration', ...keys, 'tensors', 's'].join('\t'));
for (const r of rows)
  console.log([r.iteration, ...keys.map((k) => `${r.step[k]}${r.losses[k] ? `+${r.losses[k]}` : ''}`), r.tensors, r.seconds.toFixed(2)].join('\t'));
const last = rows.at(-1);
if (TRACE) for (const [site, n] of [...uploadSites].sort((a, b) => b[1] - a[1])) console.log(`${n}\t${site}`);
console.log(
  `@@${JSON.stringify({ event: 'counts', mode, crop, config, adapter: (await navigator.gpu.requestAdapter())?.info?.description ?? null, first: rows[0], steady: last })}`,
);
