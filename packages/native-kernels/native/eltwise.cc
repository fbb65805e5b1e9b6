// @cut/native-kernels: the memory-bound kernels of a training step, multi-threaded (OpenMP)
// on float32 tensors in the wasm heap, read and written in place like the convolutions.
// Once the convolutions run in oneDNN, these single-threaded wasm loops (bias and gradient
// adds, ReLU gradients, reflect padding and its gradient, bias-gradient sums) are about half
// of an iteration; here they run on every core at memory speed.
//
// Every function takes (buffer, Float64Array of byte offsets, ...): inputs first, output last.
#include <napi.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace cut_eltwise {

// Below this many elements one thread is faster than waking the others.
constexpr int64_t kParallelMin = 1 << 15;

struct Heap {
  unsigned char* base;
  size_t bytes;
  float* at(double offset, int64_t count, const char* what) const {
    if (offset < 0 || count < 0 || offset + static_cast<double>(count) * 4 > static_cast<double>(bytes) ||
        static_cast<size_t>(offset) % 4 != 0) {
      throw std::runtime_error(std::string(what) + " lies outside the buffer");
    }
    return reinterpret_cast<float*>(base + static_cast<size_t>(offset));
  }
};

Heap heapOf(const Napi::CallbackInfo& info) {
  Napi::ArrayBuffer buf = info[0].As<Napi::ArrayBuffer>();
  return {static_cast<unsigned char*>(buf.Data()), buf.ByteLength()};
}

std::vector<double> offsetsOf(const Napi::CallbackInfo& info, size_t n) {
  Napi::Float64Array off = info[1].As<Napi::Float64Array>();
  if (off.ElementLength() != n) throw std::runtime_error("bad offsets length");
  std::vector<double> out(n);
  for (size_t i = 0; i < n; i++) out[i] = off[i];
  return out;
}

std::vector<int64_t> intsOf(const Napi::Value& v) {
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  std::vector<int64_t> out(a.ElementLength());
  for (size_t i = 0; i < out.size(); i++) out[i] = a[i];
  return out;
}

template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, F f) {
  try {
    f();
    return info.Env().Undefined();
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

enum BinaryOp { kAdd = 0, kSub = 1, kMul = 2, kCopyA = 3 };

template <int Op>
inline float apply(float a, float b) {
  if constexpr (Op == kAdd) return a + b;
  if constexpr (Op == kSub) return a - b;
  if constexpr (Op == kCopyA) return a;
  return a * b;
}

// One row of a broadcast binary op: a and b step by sa, sb (0 or 1 in practice, so the
// compiler vectorises the three common cases).
template <int Op>
void row(const float* a, const float* b, float* o, int64_t n, int64_t sa, int64_t sb) {
  if (sa == 1 && sb == 1) {
    for (int64_t j = 0; j < n; j++) o[j] = apply<Op>(a[j], b[j]);
  } else if (sa == 1 && sb == 0) {
    const float bv = b[0];
    for (int64_t j = 0; j < n; j++) o[j] = apply<Op>(a[j], bv);
  } else if (sa == 0 && sb == 1) {
    const float av = a[0];
    for (int64_t j = 0; j < n; j++) o[j] = apply<Op>(av, b[j]);
  } else {
    for (int64_t j = 0; j < n; j++) o[j] = apply<Op>(a[j * sa], b[j * sb]);
  }
}

// out = a op b over an output shape of rank r (dims coalesced by the caller), with per-dim
// element strides for a and b (0 where that input is broadcast).
template <int Op>
void binary(const float* a, const float* b, float* o, const std::vector<int64_t>& shape, const std::vector<int64_t>& sa,
            const std::vector<int64_t>& sb) {
  const int r = static_cast<int>(shape.size());
  int64_t total = 1;
  for (int64_t d : shape) total *= d;
  const int64_t inner = shape[r - 1];
  const int64_t isa = sa[r - 1], isb = sb[r - 1];
  if (r == 1) {
    // One flat run: split it into chunks for the threads.
    const int64_t chunk = 1 << 14;
    const int64_t chunks = (inner + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (total >= kParallelMin)
    for (int64_t c = 0; c < chunks; c++) {
      const int64_t j0 = c * chunk, n = std::min(chunk, inner - j0);
      row<Op>(a + j0 * isa, b + j0 * isb, o + j0, n, isa, isb);
    }
    return;
  }
  const int64_t rows = total / inner;
#pragma omp parallel for schedule(static) if (total >= kParallelMin)
  for (int64_t q = 0; q < rows; q++) {
    int64_t rest = q, oa = 0, ob = 0;
    for (int d = r - 2; d >= 0; d--) {
      const int64_t i = rest % shape[d];
      rest /= shape[d];
      oa += i * sa[d];
      ob += i * sb[d];
    }
    row<Op>(a + oa, b + ob, o + q * inner, inner, isa, isb);
  }
}

// binary(buffer, [a, b, out], op, shape, aStrides, bStrides)
Napi::Value Binary(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    const Heap h = heapOf(info);
    const auto off = offsetsOf(info, 3);
    const int op = info[2].As<Napi::Number>().Int32Value();
    const auto shape = intsOf(info[3]), sa = intsOf(info[4]), sb = intsOf(info[5]);
    if (shape.empty() || sa.size() != shape.size() || sb.size() != shape.size()) throw std::runtime_error("bad shape or strides");
    int64_t total = 1, reachA = 1, reachB = 1;
    for (size_t d = 0; d < shape.size(); d++) {
      total *= shape[d];
      reachA += (shape[d] - 1) * sa[d];
      reachB += (shape[d] - 1) * sb[d];
    }
    const float* a = h.at(off[0], reachA, "first input");
    const float* b = h.at(off[1], reachB, "second input");
    float* o = h.at(off[2], total, "output");
    switch (op) {
      case kAdd: binary<kAdd>(a, b, o, shape, sa, sb); break;
      case kSub: binary<kSub>(a, b, o, shape, sa, sb); break;
      case kMul: binary<kMul>(a, b, o, shape, sa, sb); break;
      case kCopyA: binary<kCopyA>(a, b, o, shape, sa, sb); break;
      default: throw std::runtime_error("unknown binary op");
    }
  });
}

// leakyReluGrad(buffer, [dy, x, out], n, alpha): dy where x > 0, else alpha * dy (exactly 0
// when alpha is 0, as PyTorch's ReLU gradient, whatever dy holds).
Napi::Value LeakyReluGrad(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    const Heap h = heapOf(info);
    const auto off = offsetsOf(info, 3);
    const int64_t n = info[2].As<Napi::Number>().Int64Value();
    const float alpha = info[3].As<Napi::Number>().FloatValue();
    const float* dy = h.at(off[0], n, "dy");
    const float* x = h.at(off[1], n, "x");
    float* o = h.at(off[2], n, "output");
    if (alpha == 0.f) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
      for (int64_t i = 0; i < n; i++) o[i] = x[i] > 0.f ? dy[i] : 0.f;
    } else {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
      for (int64_t i = 0; i < n; i++) o[i] = x[i] > 0.f ? dy[i] : alpha * dy[i];
    }
  });
}

// Where padded index p (0 <= p < before + size + after) reads from: 'reflect' mirrors without
// repeating the edge entry, 'symmetric' repeats it.
inline int64_t mirrored(int64_t p, int64_t before, int64_t size, bool symmetric) {
  int64_t i = p - before;
  if (i < 0) i = symmetric ? -i - 1 : -i;
  if (i >= size) i = symmetric ? 2 * size - 1 - i : 2 * size - 2 - i;
  return i;
}

// mirrorPad(buffer, [x, out], xShape [n, h, w, c], pads [top, bottom, left, right], symmetric)
Napi::Value MirrorPad(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    const Heap hp = heapOf(info);
    const auto off = offsetsOf(info, 2);
    const auto s = intsOf(info[2]), p = intsOf(info[3]);
    const bool symmetric = info[4].As<Napi::Boolean>().Value();
    if (s.size() != 4 || p.size() != 4) throw std::runtime_error("mirrorPad takes a 4-D shape and 4 pads");
    const int64_t n = s[0], h = s[1], w = s[2], c = s[3];
    const int64_t oh = h + p[0] + p[1], ow = w + p[2] + p[3];
    const float* x = hp.at(off[0], n * h * w * c, "input");
    float* o = hp.at(off[1], n * oh * ow * c, "output");
    std::vector<int64_t> col(ow);
    for (int64_t j = 0; j < ow; j++) col[j] = mirrored(j, p[2], w, symmetric);
#pragma omp parallel for schedule(static) if (n * oh * ow * c >= kParallelMin)
    for (int64_t q = 0; q < n * oh; q++) {
      const int64_t b = q / oh, i = mirrored(q % oh, p[0], h, symmetric);
      const float* src = x + (b * h + i) * w * c;
      float* dst = o + q * ow * c;
      std::memcpy(dst + p[2] * c, src, sizeof(float) * w * c);
      for (int64_t j = 0; j < p[2]; j++) std::memcpy(dst + j * c, src + col[j] * c, sizeof(float) * c);
      for (int64_t j = p[2] + w; j < ow; j++) std::memcpy(dst + j * c, src + col[j] * c, sizeof(float) * c);
    }
  });
}

// mirrorPadGrad(buffer, [dy, out], xShape [n, h, w, c], pads, symmetric): each entry of x gets
// the sum of dy over the padded positions that copied it. Threads own output rows, so no
// two threads write one place.
Napi::Value MirrorPadGrad(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    const Heap hp = heapOf(info);
    const auto off = offsetsOf(info, 2);
    const auto s = intsOf(info[2]), p = intsOf(info[3]);
    const bool symmetric = info[4].As<Napi::Boolean>().Value();
    if (s.size() != 4 || p.size() != 4) throw std::runtime_error("mirrorPadGrad takes a 4-D shape and 4 pads");
    const int64_t n = s[0], h = s[1], w = s[2], c = s[3];
    const int64_t oh = h + p[0] + p[1], ow = w + p[2] + p[3];
    const float* dy = hp.at(off[0], n * oh * ow * c, "dy");
    float* o = hp.at(off[1], n * h * w * c, "output");
    // For each x row / column, the padded rows / columns that read it (the first is its own).
    auto sources = [&](int64_t size, int64_t before, int64_t padded) {
      std::vector<std::vector<int64_t>> from(size);
      for (int64_t i = 0; i < size; i++) from[i].push_back(i + before);
      for (int64_t q = 0; q < padded; q++) {
        if (q >= before && q < before + size) continue;
        from[mirrored(q, before, size, symmetric)].push_back(q);
      }
      return from;
    };
    const auto rows = sources(h, p[0], oh), cols = sources(w, p[2], ow);
#pragma omp parallel for schedule(static) if (n * h * w * c >= kParallelMin)
    for (int64_t q = 0; q < n * h; q++) {
      const int64_t b = q / h, i = q % h;
      float* dst = o + q * w * c;
      const auto& rs = rows[i];
      // Own row first (a copy), then the mirrored rows added.
      for (size_t k = 0; k < rs.size(); k++) {
        const float* src = dy + (b * oh + rs[k]) * ow * c;
        for (int64_t j = 0; j < w; j++) {
          const auto& cs = cols[j];
          float* d = dst + j * c;
          const float* s0 = src + cs[0] * c;
          if (k == 0) {
            for (int64_t e = 0; e < c; e++) d[e] = s0[e];
          } else {
            for (int64_t e = 0; e < c; e++) d[e] += s0[e];
          }
          for (size_t m = 1; m < cs.size(); m++) {
            const float* sm = src + cs[m] * c;
            for (int64_t e = 0; e < c; e++) d[e] += sm[e];
          }
        }
      }
    }
  });
}

// Per-column sums (double) over `rows` rows of `c` values: row(r, acc) adds row r into acc.
// Threads take blocks of rows into partial sums, added up at the end.
template <typename Row>
std::vector<double> columnSums(int64_t rows, int64_t c, Row row) {
  const int threads = rows * c >= kParallelMin ? omp_get_max_threads() : 1;
  std::vector<double> partial(static_cast<size_t>(threads) * c, 0.0);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    double* acc = partial.data() + static_cast<size_t>(t) * c;
    for (int64_t r = rows * t / nt; r < rows * (t + 1) / nt; r++) row(r, acc);
  }
  std::vector<double> out(c, 0.0);
  for (int t = 0; t < threads; t++)
    for (int64_t i = 0; i < c; i++) out[i] += partial[static_cast<size_t>(t) * c + i];
  return out;
}

// sum(buffer, [x, out], outer, reduce, inner): out[o, i] = sum over r of x[o, r, i],
// accumulated in double.
Napi::Value Sum(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    const Heap hp = heapOf(info);
    const auto off = offsetsOf(info, 2);
    const int64_t outer = info[2].As<Napi::Number>().Int64Value();
    const int64_t red = info[3].As<Napi::Number>().Int64Value();
    const int64_t inner = info[4].As<Napi::Number>().Int64Value();
    const float* x = hp.at(off[0], outer * red * inner, "input");
    float* o = hp.at(off[1], outer * inner, "output");
    const bool parallel = outer * red * inner >= kParallelMin;
    if (inner == 1) {
      // Contiguous runs: threads split each run, partial sums combined.
      for (int64_t q = 0; q < outer; q++) {
        const float* src = x + q * red;
        double total = 0;
#pragma omp parallel for simd reduction(+ : total) schedule(static) if (parallel && red >= kParallelMin)
        for (int64_t r = 0; r < red; r++) total += src[r];
        o[q] = static_cast<float>(total);
      }
      return;
    }
    if (outer >= 64) {
      // Many small reductions: threads take whole ones.
#pragma omp parallel if (parallel)
      {
        std::vector<double> acc(inner);
#pragma omp for schedule(static)
        for (int64_t q = 0; q < outer; q++) {
          std::fill(acc.begin(), acc.end(), 0.0);
          const float* src = x + q * red * inner;
          for (int64_t r = 0; r < red; r++) {
            const float* line = src + r * inner;
#pragma omp simd
            for (int64_t i = 0; i < inner; i++) acc[i] += line[i];
          }
          for (int64_t i = 0; i < inner; i++) o[q * inner + i] = static_cast<float>(acc[i]);
        }
      }
      return;
    }
    // Few large reductions (bias gradients): threads split each one's rows.
    for (int64_t q = 0; q < outer; q++) {
      const float* src = x + q * red * inner;
      const std::vector<double> sums = columnSums(red, inner, [&](int64_t r, double* acc) {
        const float* line = src + r * inner;
#pragma omp simd
        for (int64_t i = 0; i < inner; i++) acc[i] += line[i];
      });
      for (int64_t i = 0; i < inner; i++) o[q * inner + i] = static_cast<float>(sums[i]);
    }
  });
}

// reverse(buffer, [x, out], outer, n, inner): out[o, i, :] = x[o, n - 1 - i, :] (one axis of
// length n reversed; inner: the elements after it). wasm's Reverse takes ~40 ns an element.
Napi::Value Reverse(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    const Heap hp = heapOf(info);
    const auto off = offsetsOf(info, 2);
    const int64_t outer = info[2].As<Napi::Number>().Int64Value();
    const int64_t n = info[3].As<Napi::Number>().Int64Value();
    const int64_t inner = info[4].As<Napi::Number>().Int64Value();
    const float* x = hp.at(off[0], outer * n * inner, "input");
    float* o = hp.at(off[1], outer * n * inner, "output");
#pragma omp parallel for schedule(static) if (outer * n * inner >= kParallelMin)
    for (int64_t q = 0; q < outer * n; q++) {
      const int64_t b = q / n, i = q % n;
      std::memcpy(o + q * inner, x + (b * n + (n - 1 - i)) * inner, sizeof(float) * inner);
    }
  });
}

// instanceNorm(buffer, [x, y, rstd], n, hw, c, eps): per sample and channel over the hw
// positions, y = (x - mean) * rstd with rstd = 1 / sqrt(var + eps), the biased variance taken
// around the mean (two passes). Sums in double; the arithmetic on values in float32 as the
// composed version (@cut/core-tensors' instanceNorm) does it.
Napi::Value InstanceNorm(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    const Heap hp = heapOf(info);
    const auto off = offsetsOf(info, 3);
    const int64_t n = info[2].As<Napi::Number>().Int64Value();
    const int64_t hw = info[3].As<Napi::Number>().Int64Value();
    const int64_t c = info[4].As<Napi::Number>().Int64Value();
    const double eps = info[5].As<Napi::Number>().DoubleValue();
    const float* x0 = hp.at(off[0], n * hw * c, "input");
    float* y0 = hp.at(off[1], n * hw * c, "output");
    float* rstd0 = hp.at(off[2], n * c, "rstd");
    for (int64_t b = 0; b < n; b++) {
      const float* x = x0 + b * hw * c;
      float* y = y0 + b * hw * c;
      float* rstd = rstd0 + b * c;
      const std::vector<double> sums = columnSums(hw, c, [&](int64_t r, double* acc) {
        const float* p = x + r * c;
#pragma omp simd
        for (int64_t i = 0; i < c; i++) acc[i] += p[i];
      });
      std::vector<float> mean(c);
      for (int64_t i = 0; i < c; i++) mean[i] = static_cast<float>(sums[i] / hw);
      const float* m = mean.data();
      const std::vector<double> squares = columnSums(hw, c, [&](int64_t r, double* acc) {
        const float* p = x + r * c;
#pragma omp simd
        for (int64_t i = 0; i < c; i++) {
          const float d = p[i] - m[i];
          acc[i] += static_cast<double>(d) * d;
        }
      });
      for (int64_t i = 0; i < c; i++) rstd[i] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(static_cast<float>(squares[i] / hw) + static_cast<float>(eps))));
      const float* rs = rstd;
#pragma omp parallel for schedule(static) if (hw * c >= kParallelMin)
      for (int64_t r = 0; r < hw; r++) {
        const float* p = x + r * c;
        float* q = y + r * c;
#pragma omp simd
        for (int64_t i = 0; i < c; i++) q[i] = (p[i] - m[i]) * rs[i];
      }
    }
  });
}

// instanceNormGrad(buffer, [dy, y, rstd, dx], n, hw, c):
// dx = ((dy - mean(dy)) - y * mean(dy * y)) * rstd, the means per sample and channel.
Napi::Value InstanceNormGrad(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    const Heap hp = heapOf(info);
    const auto off = offsetsOf(info, 4);
    const int64_t n = info[2].As<Napi::Number>().Int64Value();
    const int64_t hw = info[3].As<Napi::Number>().Int64Value();
    const int64_t c = info[4].As<Napi::Number>().Int64Value();
    const float* dy0 = hp.at(off[0], n * hw * c, "dy");
    const float* y0 = hp.at(off[1], n * hw * c, "y");
    const float* rstd0 = hp.at(off[2], n * c, "rstd");
    float* dx0 = hp.at(off[3], n * hw * c, "output");
    for (int64_t b = 0; b < n; b++) {
      const float* dy = dy0 + b * hw * c;
      const float* y = y0 + b * hw * c;
      const float* rs = rstd0 + b * c;
      float* dx = dx0 + b * hw * c;
      // Both sums in one pass: [sum dy | sum dy * y].
      const std::vector<double> sums = columnSums(hw, 2 * c, [&](int64_t r, double* acc) {
        const float* g = dy + r * c;
        const float* p = y + r * c;
#pragma omp simd
        for (int64_t i = 0; i < c; i++) {
          acc[i] += g[i];
          acc[c + i] += g[i] * p[i];
        }
      });
      std::vector<float> mg(c), mgy(c);
      for (int64_t i = 0; i < c; i++) {
        mg[i] = static_cast<float>(sums[i] / hw);
        mgy[i] = static_cast<float>(sums[c + i] / hw);
      }
      const float* a = mg.data();
      const float* bb = mgy.data();
#pragma omp parallel for schedule(static) if (hw * c >= kParallelMin)
      for (int64_t r = 0; r < hw; r++) {
        const float* g = dy + r * c;
        const float* p = y + r * c;
        float* q = dx + r * c;
#pragma omp simd
        for (int64_t i = 0; i < c; i++) q[i] = ((g[i] - a[i]) - p[i] * bb[i]) * rs[i];
      }
    }
  });
}

}  // namespace cut_eltwise

void RegisterEltwise(Napi::Env env, Napi::Object exports) {
  exports.Set("binary", Napi::Function::New(env, cut_eltwise::Binary));
  exports.Set("leakyReluGrad", Napi::Function::New(env, cut_eltwise::LeakyReluGrad));
  exports.Set("mirrorPad", Napi::Function::New(env, cut_eltwise::MirrorPad));
  exports.Set("mirrorPadGrad", Napi::Function::New(env, cut_eltwise::MirrorPadGrad));
  exports.Set("sum", Napi::Function::New(env, cut_eltwise::Sum));
  exports.Set("reverse", Napi::Function::New(env, cut_eltwise::Reverse));
  exports.Set("instanceNorm", Napi::Function::New(env, cut_eltwise::InstanceNorm));
  exports.Set("instanceNormGrad", Napi::Function::New(env, cut_eltwise::InstanceNormGrad));
}
