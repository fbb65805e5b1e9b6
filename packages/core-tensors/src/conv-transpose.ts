import * as tf from '@tensorflow/tfjs-core';

type Pair = number | readonly [number, number];

export interface ConvTransposeTorchOptions {
  /** torch `stride` (default 1). */
  stride?: Pair;
  /** torch `padding`: rows/columns removed from each border of the full output (default 0). */
  padding?: Pair;
  /** torch `output_padding`: extra rows/columns at the bottom/right (default 0; must be < stride). */
  outputPadding?: Pair;
  /** Optional bias `[outC]`. */
  bias?: tf.Tensor1D;
}

const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

/**
 * torch's `ConvTranspose2d(stride, padding, output_padding)` on NHWC input, e.g. the
 * no_antialias_up generator's ConvTranspose2d(k3, s2, p1, output_padding=1), which doubles H and W.
 *
 * `filter` is the torch weight `[in, out, kh, kw]` converted with `iohwToHwoi` to tfjs's
 * conv2dTranspose layout `[kh, kw, out, in]`; no spatial flip is needed.
 *
 * Output size per axis: (in - 1) * stride - 2 * padding + k + outputPadding. Torch places
 * x[i] * w[k] at output row i*stride - padding + k, which is tfjs's conv2dTranspose with an
 * explicit padding of `padding` rows on top and `padding - outputPadding` at the bottom
 * (tfjs's 'same' would put the odd row on the other side and shift the result by one).
 * When outputPadding > padding, the last rows receive no input (torch gives them only
 * the bias), so we compute the smaller map and zero-pad it.
 */
export function conv2dTransposeTorch(x: tf.Tensor4D, filter: tf.Tensor4D, options: ConvTransposeTorchOptions = {}): tf.Tensor4D {
  const [sh, sw] = pair(options.stride ?? 1);
  const [ph, pw] = pair(options.padding ?? 0);
  const [oph, opw] = pair(options.outputPadding ?? 0);
  const [kh, kw, outC, inC] = filter.shape;
  const [n, h, w, c] = x.shape;
  if (c !== inC) throw new Error(`conv2dTransposeTorch: input has ${c} channels, filter expects ${inC}`);
  if (oph >= sh || opw >= sw) {
    throw new Error(`conv2dTransposeTorch: output_padding [${oph}, ${opw}] must be smaller than stride [${sh}, ${sw}]`);
  }
  const outH = (h - 1) * sh - 2 * ph + kh + oph;
  const outW = (w - 1) * sw - 2 * pw + kw + opw;
  if (outH <= 0 || outW <= 0) throw new Error(`conv2dTransposeTorch: empty output ${outH}x${outW}`);
  // Rows/columns only the bias reaches (output_padding beyond padding).
  const extraH = Math.max(0, oph - ph);
  const extraW = Math.max(0, opw - pw);
  return tf.tidy(() => {
    let y = tf.conv2dTranspose(
      x,
      filter,
      [n, outH - extraH, outW - extraW, outC],
      [sh, sw],
      [
        [0, 0],
        [ph, ph - oph + extraH],
        [pw, pw - opw + extraW],
        [0, 0],
      ],
    );
    if (extraH || extraW)
      y = tf.pad(y, [
        [0, 0],
        [0, extraH],
        [0, extraW],
        [0, 0],
      ]);
    return options.bias ? tf.add(y, options.bias) : y;
  });
}
