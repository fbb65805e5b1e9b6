// @cut/native-kernels: oneDNN convolutions on float32 NHWC tensors that live in a caller's
// ArrayBuffer (the wasm heap of tfjs-backend-wasm), read and written in place, synchronously.
//
// One entry point, conv(op, buffer, offsets, dims): op 0 forward (+ bias, + activation),
// 1 input gradient, 2 filter gradient. Filters are tfjs's HWIO. Primitives are cached per
// thread by shape; oneDNN fixes a primitive's thread count when it is created, so the cache
// is cleared when the thread count changes.
#include <napi.h>
#include <omp.h>

#include <cstring>
#ifdef __linux__
#include <sys/mman.h>
#endif
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <algorithm>
#include <climits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

using namespace dnnl;

// native/eltwise.cc: the memory-bound kernels.
void RegisterEltwise(Napi::Env env, Napi::Object exports);
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

enum Op { kForward = 0, kBackwardData = 1, kBackwardWeights = 2 };
// Activations of the forward op (tfjs FusedConv2D names, in this order on the JS side).
enum Act { kLinear = 0, kRelu = 1, kRelu6 = 2, kLeakyRelu = 3, kSigmoid = 4, kElu = 5 };

// dims: n, ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, dh, dw (dilation, 1 = none),
// pad top, left, bottom, right, has bias, activation, groups (1 = none; ic for depthwise).
constexpr int kDims = 20;

int g_threads = 0;  // 0 = not set yet: OpenMP's default

struct Entry {
  primitive prim;
  memory::desc src, wei, dst, bias;  // the primitive's own layouts (weights may be blocked)
  memory::desc user_wei;             // HWIO
  bool reorder_wei = false;
  reorder wei_reorder;              // user HWIO -> blocked (forward, backward data) or back (backward weights)
  std::vector<float> wei_buf;        // the blocked weights
  memory::desc scratch;
  std::vector<unsigned char> scratch_buf;
  // An input gradient run as a forward convolution of dy (see build): the filter flipped and
  // transposed into flip_buf first; kh, kw, ic, oc of the ORIGINAL convolution.
  bool flipped = false;
  std::vector<float> flip_buf;
  int64_t fkh = 0, fkw = 0, fic = 0, foc = 0;
};

struct PerThread {
  engine eng{engine::kind::cpu, 0};
  stream strm{eng};
  std::map<std::string, std::unique_ptr<Entry>> cache;
  int threads = -1;
};

PerThread& local() {
  static thread_local PerThread t;
  return t;
}

memory::dims v(std::initializer_list<int64_t> l) { return memory::dims(l); }

std::unique_ptr<Entry> build(int op, const int* d, float alpha, engine& eng) {
  const int64_t n = d[0], ih = d[1], iw = d[2], ic = d[3], oh = d[4], ow = d[5], oc = d[6], kh = d[7], kw = d[8];
  // A stride-1 input gradient is a forward convolution of dy with the filter flipped in space
  // and its in/out channels swapped, padded by k - 1 - pad: oneDNN's forward kernels (brgconv)
  // run it 1.3-1.8x faster than its backward-data ones on CUT's layers.
  if (op == kBackwardData && d[9] == 1 && d[10] == 1 && d[11] == 1 && d[12] == 1 && d[19] == 1) {
    int f[kDims];
    std::copy(d, d + kDims, f);
    f[1] = static_cast<int>(oh), f[2] = static_cast<int>(ow), f[3] = static_cast<int>(oc);
    f[4] = static_cast<int>(ih), f[5] = static_cast<int>(iw), f[6] = static_cast<int>(ic);
    f[13] = static_cast<int>(kh) - 1 - d[13], f[14] = static_cast<int>(kw) - 1 - d[14];
    f[15] = static_cast<int>(kh) - 1 - d[15], f[16] = static_cast<int>(kw) - 1 - d[16];
    f[17] = 0, f[18] = 0;
    if (f[13] >= 0 && f[14] >= 0 && f[15] >= 0 && f[16] >= 0) {
      auto e = build(kForward, f, 0.f, eng);
      e->flipped = true;
      e->fkh = kh, e->fkw = kw, e->fic = ic, e->foc = oc;
      e->flip_buf.resize(static_cast<size_t>(kh * kw * ic * oc));
      return e;
    }
  }
  const memory::dims strides = v({d[9], d[10]});
  const memory::dims dil = v({d[11] - 1, d[12] - 1});
  const memory::dims pad_l = v({d[13], d[14]});
  const memory::dims pad_r = v({d[15], d[16]});
  const bool has_bias = d[17] != 0;
  const int act = d[18];
  const int64_t g = d[19];
  if (g < 1 || ic % g != 0 || oc % g != 0) throw std::runtime_error("bad group count");

  // Logical dims are NCHW / OIHW; the tags give the memory layout (NHWC, HWIO).
  const memory::desc src(v({n, ic, ih, iw}), dt::f32, tag::nhwc);
  const memory::desc dst(v({n, oc, oh, ow}), dt::f32, tag::nhwc);
  // Grouped (depthwise) filters are tfjs's [kh, kw, ic, multiplier]: oneDNN's hwigo with i = 1.
  const memory::dims wei_dims = g > 1 ? v({g, oc / g, ic / g, kh, kw}) : v({oc, ic, kh, kw});
  const memory::desc wei_any(wei_dims, dt::f32, tag::any);
  const memory::desc wei_user(wei_dims, dt::f32, g > 1 ? tag::hwigo : tag::hwio);
  const memory::desc bias_md(v({oc}), dt::f32, tag::x);

  auto e = std::make_unique<Entry>();
  e->user_wei = wei_user;
  e->src = src;
  e->dst = dst;
  e->bias = bias_md;

  primitive_attr attr;
  attr.set_scratchpad_mode(scratchpad_mode::user);
  const convolution_forward::desc fwd_desc =
      has_bias ? convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, src, wei_any, bias_md, dst,
                                           strides, dil, pad_l, pad_r)
               : convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, src, wei_any, dst, strides,
                                           dil, pad_l, pad_r);

  if (op == kForward) {
    post_ops po;
    switch (act) {
      case kLinear: break;
      case kRelu: po.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f); break;
      case kRelu6: po.append_eltwise(1.f, algorithm::eltwise_clip, 0.f, 6.f); break;
      case kLeakyRelu: po.append_eltwise(1.f, algorithm::eltwise_relu, alpha, 0.f); break;
      case kSigmoid: po.append_eltwise(1.f, algorithm::eltwise_logistic, 0.f, 0.f); break;
      case kElu: po.append_eltwise(1.f, algorithm::eltwise_elu, 1.f, 0.f); break;
      default: throw std::runtime_error("unknown activation");
    }
    attr.set_post_ops(po);
    const convolution_forward::primitive_desc pd(fwd_desc, attr, eng);
    e->wei = pd.weights_desc();
    e->scratch = pd.scratchpad_desc();
    e->prim = convolution_forward(pd);
    if (e->wei != wei_user) {
      e->reorder_wei = true;
      e->wei_reorder = reorder(reorder::primitive_desc(eng, wei_user, eng, e->wei));
    }
  } else {
    // Hint: the forward primitive the backward pass belongs to.
    const convolution_forward::primitive_desc hint(fwd_desc, eng);
    if (op == kBackwardData) {
      const convolution_backward_data::desc bd(algorithm::convolution_direct, src, wei_any, dst, strides, dil, pad_l, pad_r);
      const convolution_backward_data::primitive_desc pd(bd, attr, eng, hint);
      e->wei = pd.weights_desc();
      e->scratch = pd.scratchpad_desc();
      e->prim = convolution_backward_data(pd);
      if (e->wei != wei_user) {
        e->reorder_wei = true;
        e->wei_reorder = reorder(reorder::primitive_desc(eng, wei_user, eng, e->wei));
      }
    } else {
      const convolution_backward_weights::desc bw(algorithm::convolution_direct, src, wei_any, dst, strides, dil, pad_l, pad_r);
      const convolution_backward_weights::primitive_desc pd(bw, attr, eng, hint);
      e->wei = pd.diff_weights_desc();
      e->scratch = pd.scratchpad_desc();
      e->prim = convolution_backward_weights(pd);
      if (e->wei != wei_user) {
        e->reorder_wei = true;
        e->wei_reorder = reorder(reorder::primitive_desc(eng, e->wei, eng, wei_user));
      }
    }
  }
  if (e->reorder_wei) e->wei_buf.resize(e->wei.get_size() / sizeof(float) + 1);
  e->scratch_buf.resize(e->scratch.get_size() + 1);
  return e;
}

// conv(op, buffer, [a, b, bias, out] byte offsets, Int32Array dims, alpha):
//   forward:          a = x,  b = filter, out = y
//   backward data:    a = dy, b = filter, out = dx
//   backward weights: a = x,  b = dy,     out = dw
Napi::Value Conv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    const int op = info[0].As<Napi::Number>().Int32Value();
    Napi::ArrayBuffer buf = info[1].As<Napi::ArrayBuffer>();
    Napi::Float64Array off = info[2].As<Napi::Float64Array>();
    Napi::Int32Array dimsArr = info[3].As<Napi::Int32Array>();
    const float alpha = info.Length() > 4 ? info[4].As<Napi::Number>().FloatValue() : 0.f;
    if (dimsArr.ElementLength() != kDims || off.ElementLength() != 4) throw std::runtime_error("bad argument lengths");
    int d[kDims];
    for (int i = 0; i < kDims; i++) d[i] = dimsArr[i];
    unsigned char* base = static_cast<unsigned char*>(buf.Data());
    const size_t bytes = buf.ByteLength();

    PerThread& t = local();
    const int threads = g_threads > 0 ? g_threads : omp_get_max_threads();
    if (g_threads > 0) omp_set_num_threads(g_threads);  // ICVs are per calling thread
    if (threads != t.threads) {
      t.cache.clear();
      t.threads = threads;
    }
    std::string key(reinterpret_cast<const char*>(d), sizeof(d));
    key.push_back(static_cast<char>(op));
    if (op == kForward && d[18] == kLeakyRelu) key.append(reinterpret_cast<const char*>(&alpha), sizeof(alpha));
    auto it = t.cache.find(key);
    if (it == t.cache.end()) {
      it = t.cache.emplace(key, build(op, d, alpha, t.eng)).first;
    }
    Entry& e = *it->second;

    // A flipped input gradient runs as a forward convolution: a = dy is its source, out = dx its destination.
    const bool forward_like = op == kForward || e.flipped;
    const size_t a_bytes = (forward_like ? e.src : op == kBackwardData ? e.dst : e.src).get_size();
    const size_t b_bytes = (op == kBackwardWeights ? e.dst : e.user_wei).get_size();
    const size_t o_bytes = (forward_like ? e.dst : op == kBackwardData ? e.src : e.user_wei).get_size();
    const double oa = off[0], ob = off[1], obias = off[2], oo = off[3];
    auto check = [&](double o, size_t n, const char* what) {
      if (o < 0 || o + n > bytes || static_cast<size_t>(o) % 4 != 0) throw std::runtime_error(std::string(what) + " lies outside the buffer");
    };
    check(oa, a_bytes, "input");
    check(ob, b_bytes, "second input");
    check(oo, o_bytes, "output");
    if (op == kForward && d[17]) check(obias, e.bias.get_size(), "bias");
    float* pa = reinterpret_cast<float*>(base + static_cast<size_t>(oa));
    float* pb = reinterpret_cast<float*>(base + static_cast<size_t>(ob));
    float* po = reinterpret_cast<float*>(base + static_cast<size_t>(oo));

    memory scratch(e.scratch, t.eng, e.scratch_buf.data());
    if (e.flipped) {
      // flip[a][b][i'][o'] = w[kh-1-a][kw-1-b][o'][i'] (HWIO both; i' runs over the original oc).
      const int64_t kh = e.fkh, kw = e.fkw, ic = e.fic, oc = e.foc;
      float* flip = e.flip_buf.data();
#pragma omp parallel for collapse(2) schedule(static) if (kh * kw * ic * oc >= 65536)
      for (int64_t a = 0; a < kh; a++)
        for (int64_t b = 0; b < kw; b++) {
          const float* w = pb + ((kh - 1 - a) * kw + (kw - 1 - b)) * ic * oc;
          float* to = flip + (a * kw + b) * oc * ic;
          for (int64_t o2 = 0; o2 < ic; o2++)
            for (int64_t i2 = 0; i2 < oc; i2++) to[i2 * ic + o2] = w[o2 * oc + i2];
        }
      pb = flip;
    }
    if (forward_like || op == kBackwardData) {
      memory wei_user(e.user_wei, t.eng, pb);
      memory wei = wei_user;
      if (e.reorder_wei) {
        wei = memory(e.wei, t.eng, e.wei_buf.data());
        e.wei_reorder.execute(t.strm, wei_user, wei);
      }
      if (forward_like) {
        std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(e.src, t.eng, pa)},
                                             {DNNL_ARG_WEIGHTS, wei},
                                             {DNNL_ARG_DST, memory(e.dst, t.eng, po)},
                                             {DNNL_ARG_SCRATCHPAD, scratch}};
        if (d[17]) args.emplace(DNNL_ARG_BIAS, memory(e.bias, t.eng, base + static_cast<size_t>(obias)));
        e.prim.execute(t.strm, args);
      } else {
        e.prim.execute(t.strm, {{DNNL_ARG_DIFF_DST, memory(e.dst, t.eng, pa)},
                                {DNNL_ARG_WEIGHTS, wei},
                                {DNNL_ARG_DIFF_SRC, memory(e.src, t.eng, po)},
                                {DNNL_ARG_SCRATCHPAD, scratch}});
      }
    } else {
      memory dw_user(e.user_wei, t.eng, po);
      memory dw = e.reorder_wei ? memory(e.wei, t.eng, e.wei_buf.data()) : dw_user;
      e.prim.execute(t.strm, {{DNNL_ARG_SRC, memory(e.src, t.eng, pa)},
                              {DNNL_ARG_DIFF_DST, memory(e.dst, t.eng, pb)},
                              {DNNL_ARG_DIFF_WEIGHTS, dw},
                              {DNNL_ARG_SCRATCHPAD, scratch}});
      if (e.reorder_wei) e.wei_reorder.execute(t.strm, dw, dw_user);
    }
    t.strm.wait();
    return env.Undefined();
  } catch (const dnnl::error& err) {
    throw Napi::Error::New(env, std::string("oneDNN: ") + err.what());
  } catch (const std::exception& err) {
    throw Napi::Error::New(env, err.what());
  }
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  const int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1) throw Napi::Error::New(info.Env(), "threads must be >= 1");
  g_threads = n;
  omp_set_num_threads(n);
  return info.Env().Undefined();
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), g_threads > 0 ? g_threads : omp_get_max_threads());
}

// adviseHugePages(buffer, span): asks Linux for transparent huge pages (madvise MADV_HUGEPAGE)
// over `span` bytes from the start of `buffer`, the wasm heap (V8 reserves its whole address
// range up front, so the span may reach past the current end: the heap grows in place). On
// VMs where each first touch of a 4 KiB page costs ~10 us, a 2 MiB page is one fault instead of
// 512. Returns whether the kernel took the advice (not where THP is off, or not Linux).
Napi::Value AdviseHugePages(const Napi::CallbackInfo& info) {
#ifdef __linux__
  Napi::ArrayBuffer buf = info[0].As<Napi::ArrayBuffer>();
  const double span = info[1].As<Napi::Number>().DoubleValue();
  const uintptr_t huge = 2u << 20;
  const uintptr_t start = reinterpret_cast<uintptr_t>(buf.Data());
  const uintptr_t from = (start + huge - 1) & ~(huge - 1);
  const uintptr_t to = (start + static_cast<uintptr_t>(span)) & ~(huge - 1);
  if (to <= from) return Napi::Boolean::New(info.Env(), false);
  return Napi::Boolean::New(info.Env(), madvise(reinterpret_cast<void*>(from), to - from, MADV_HUGEPAGE) == 0);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

// keepFreedMemory(): glibc's malloc keeps what the process frees for reuse instead of handing
// it back to the kernel (no mmap for large blocks, no trimming, a 256 MiB pad when the heap
// grows): the in-process version of the GLIBC_TUNABLES the benchmarks give PyTorch. Host-side
// buffers of tens of MiB (tiled translation's feature maps, tensor reads, oneDNN's scratch
// pads) then stop paying for fresh pages on every allocation. Returns whether glibc took it.
Napi::Value KeepFreedMemory(const Napi::CallbackInfo& info) {
#ifdef __GLIBC__
  const bool ok = mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1 && mallopt(M_TOP_PAD, 256 << 20) == 1;
#ifdef __linux__
  // The heap's first GiB with transparent huge pages: grown once (address space only: nothing is
  // touched), advised, and freed back to malloc, which keeps it. Host buffers then fault in 2 MiB
  // at a time (a 1024-pixel tiled translation: ~400K page faults fewer).
  if (ok) {
    const size_t reserve = size_t(1) << 30, huge = size_t(2) << 20;
    if (void* p = malloc(reserve)) {
      const uintptr_t from = (reinterpret_cast<uintptr_t>(p) + huge - 1) & ~(huge - 1);
      const uintptr_t to = (reinterpret_cast<uintptr_t>(p) + reserve) & ~(huge - 1);
      if (to > from) madvise(reinterpret_cast<void*>(from), to - from, MADV_HUGEPAGE);
      free(p);
    }
  }
#endif
  return Napi::Boolean::New(info.Env(), ok);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

Napi::Value Version(const Napi::CallbackInfo& info) {
  const dnnl_version_t* ver = dnnl_version();
  return Napi::String::New(info.Env(), std::to_string(ver->major) + "." + std::to_string(ver->minor) + "." + std::to_string(ver->patch) +
                                           " (" + (ver->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "threads") + ")");
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  RegisterEltwise(env, exports);
  exports.Set("conv", Napi::Function::New(env, Conv));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("getThreads", Napi::Function::New(env, GetThreads));
  exports.Set("version", Napi::Function::New(env, Version));
  exports.Set("adviseHugePages", Napi::Function::New(env, AdviseHugePages));
  exports.Set("keepFreedMemory", Napi::Function::New(env, KeepFreedMemory));
  return exports;
}

}  // namespace

NODE_API_MODULE(cut_native_kernels, Init)
