import {
  UnsortedSegmentSum,
  util,
  type KernelBackend,
  type KernelConfig,
  type TensorInfo,
  type UnsortedSegmentSumAttrs,
  type UnsortedSegmentSumInputs,
} from '@tensorflow/tfjs-core';
import { WASM, withScope } from './kernel-call.js';

/**
 * UnsortedSegmentSum (the gradient of gather) as wasm's ScatterNd: ids become 1-D scatter
 * indices, each data row is added into its segment; ScatterNd accumulates repeated ids.
 * (A one-hot matmul was 40x slower, and wasm's OneHot to float32 is wrong.)
 */
function unsortedSegmentSum(args: { inputs: UnsortedSegmentSumInputs; backend: KernelBackend; attrs: UnsortedSegmentSumAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x as TensorInfo;
  const segmentIds = inputs.segmentIds as TensorInfo;
  const { numSegments } = attrs;
  // segmentIds' shape is a prefix of x's: one id per leading slice of x.
  const idsRank = segmentIds.shape.length;
  util.assert(
    segmentIds.shape.every((d, i) => d === x.shape[i]),
    () => `UnsortedSegmentSum: segmentIds shape [${segmentIds.shape}] must be a prefix of x shape [${x.shape}]`,
  );
  const count = util.sizeFromShape(segmentIds.shape);
  const rowShape = x.shape.slice(idsRank);
  return withScope(backend, [x, segmentIds], (s) => {
    let ids = segmentIds.dtype === 'int32' ? segmentIds : s.run('Cast', { x: segmentIds }, { dtype: 'int32' });
    // wasm's ScatterNd does not bounds-check: ids outside [0, numSegments) (which the cpu
    // kernel drops) go to one spare segment that is cut off afterwards. Only ids are read here.
    const values = backend.readSync(ids.dataId) as Int32Array;
    const outside = values.some((id) => id < 0 || id >= numSegments);
    if (outside) {
      const remapped = Int32Array.from(values, (id) => (id < 0 || id >= numSegments ? numSegments : id));
      ids = s.track({ dataId: backend.write(remapped, [count], 'int32'), shape: [count], dtype: 'int32' });
    }
    const segments = numSegments + (outside ? 1 : 0);
    const sums = s.run(
      'ScatterNd',
      { indices: s.reshape(ids, [count, 1]), updates: s.reshape(x, [count, ...rowShape]) },
      {
        shape: [segments, ...rowShape],
      },
    );
    return s.slice(sums, new Array<number>(rowShape.length + 1).fill(0), [numSegments, ...rowShape]);
  });
}

export const unsortedSegmentSumConfig: KernelConfig = {
  kernelName: UnsortedSegmentSum,
  backendName: WASM,
  kernelFunc: unsortedSegmentSum as unknown as KernelConfig['kernelFunc'],
};
