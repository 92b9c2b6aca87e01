//===- TinyCudaKernels.cpp - hand-written CUDA for the test plans ---------===//

#include "TinyCudaKernels.h"

#include "qrt/cuda/KernelAbi.h"

#include <cstdio>
#include <map>
#include <stdexcept>

namespace qrt::test {

namespace {

std::string fill(std::string text,
                 const std::map<std::string, std::string> &values) {
  for (const auto &[key, value] : values) {
    std::string hole = "$" + key + "$";
    for (size_t at = text.find(hole); at != std::string::npos;
         at = text.find(hole, at + value.size()))
      text.replace(at, hole.size(), value);
  }
  return text;
}

std::string str(int64_t v) { return std::to_string(v); }

std::string floatText(float v) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.9gf", double(v));
  std::string s = buffer;
  if (s.find_first_of(".e") == std::string::npos)
    s.insert(s.size() - 1, ".0");
  return s;
}

/// Elements per token of an activation [1, -1, d...].
int64_t perToken(const BufferDesc &b) {
  int64_t n = 1;
  for (size_t i = 2; i < b.dims.size(); ++i)
    n *= b.dims[i];
  return n;
}

const char *kPrelude = R"(
static __device__ __forceinline__ float t_bits(unsigned int u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
// IEEE binary16 to float, bit by bit (the same on a GPU and the emulator).
static __device__ __forceinline__ float t_h2f(unsigned short h) {
  unsigned int sign = (unsigned int)(h >> 15) << 31;
  unsigned int exponent = (h >> 10) & 31u, mantissa = h & 1023u;
  if (exponent == 0) {
    float f = (float)mantissa * 5.9604644775390625e-8f;
    return sign ? -f : f;
  }
  if (exponent == 31)
    return t_bits(sign | 0x7f800000u | (mantissa << 13));
  return t_bits(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}
static __device__ __forceinline__ float t_warp_sum(float v) {
  for (int offset = 16; offset > 0; offset >>= 1)
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}
static __device__ __forceinline__ float t_warp_max(float v) {
  for (int offset = 16; offset > 0; offset >>= 1)
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}
// Over the block (blockDim.x a multiple of 32); every thread gets it.
static __device__ __forceinline__ float t_block_sum(float v, float *scratch) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = t_warp_sum(v);
  if (lane == 0)
    scratch[warp] = v;
  __syncthreads();
  v = lane < (int)(blockDim.x >> 5) ? scratch[lane] : 0.0f;
  v = t_warp_sum(v);
  __syncthreads();
  return v;
}
static __device__ __forceinline__ float t_block_max(float v, float *scratch) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = t_warp_max(v);
  if (lane == 0)
    scratch[warp] = v;
  __syncthreads();
  v = lane < (int)(blockDim.x >> 5) ? scratch[lane] : -3.0e38f;
  v = t_warp_max(v);
  __syncthreads();
  return v;
}
)";

/// Rotates head `h` of `x` into `y` (which may be `x`) at position `pos`.
const char *kRotateHead = R"(
  {
    const float *xh = $X$ + (long long)h * $HEAD_DIM$;
    float *yh = $Y$ + (long long)h * $HEAD_DIM$;
    for (int d = $ROTARY_DIM$; d < $HEAD_DIM$; ++d)
      yh[d] = xh[d];
    for (int i = 0; i < $HALF$; ++i) {
      float c, s;
      if ($TABLES$) {
        c = ((const float *)p.buffers[1])[pos * $HALF$ + i];
        s = ((const float *)p.buffers[2])[pos * $HALF$ + i];
      } else {
        double angle = (double)pos * pow((double)$BASE$, -2.0 * i / $ROTARY_DIM$);
        c = (float)cos(angle);
        s = (float)sin(angle);
      }
      int ia = $INTERLEAVED$ ? 2 * i : i;
      int ib = $INTERLEAVED$ ? 2 * i + 1 : i + $HALF$;
      float a = xh[ia], b = xh[ib];
      yh[ia] = a * c - b * s;
      yh[ib] = a * s + b * c;
    }
  }
)";

class Generator {
public:
  Generator(const PlanDesc &spec, const TinyCudaOptions &options)
      : spec_(spec), options_(options) {}
  cuda::ExecutableDesc run();

private:
  std::string kernel(const std::string &stem, const std::string &text) {
    std::string name = "k" + std::to_string(kernels_.size()) + "_" + stem;
    std::string filled = fill(text, {{"NAME", name}});
    if (filled.find('$') != std::string::npos)
      throw std::logic_error("a hole left in the test kernel " + filled);
    source_ += filled;
    kernels_.push_back(name);
    return name;
  }
  void step(size_t entry, const StepDesc &s,
            const std::vector<size_t> &fusedRotary,
            const std::map<size_t, size_t> &fusedAdd, size_t index,
            std::vector<cuda::LaunchDesc> &launches);
  std::string rotate(const StepDesc &s, const std::string &x,
                     const std::string &y);

  const PlanDesc &spec_;
  TinyCudaOptions options_;
  std::string source_;
  std::vector<std::string> kernels_;
};

std::string Generator::rotate(const StepDesc &s, const std::string &x,
                              const std::string &y) {
  const int64_t headDim = s.inputs[0].dims[3];
  return fill(
      kRotateHead,
      {{"X", x},
       {"Y", y},
       {"HEAD_DIM", str(headDim)},
       {"ROTARY_DIM", str(s.rotaryDim)},
       {"HALF", str(s.rotaryDim / 2)},
       {"TABLES", s.inputs.size() == 3 ? "1" : "0"},
       {"BASE", floatText(s.rotaryBase)},
       {"INTERLEAVED",
        s.convention == fb::RotaryConvention::Interleaved ? "1" : "0"}});
}

void Generator::step(size_t entry, const StepDesc &s,
                     const std::vector<size_t> &fusedRotary,
                     const std::map<size_t, size_t> &fusedAdd, size_t index,
                     std::vector<cuda::LaunchDesc> &launches) {
  for (const auto &[matmul, add] : fusedAdd)
    if (add == index) {
      launches.clear(); // the matmul before adds the residual
      return;
    }
  auto fused = fusedAdd.find(index);
  // Element `index` of weight buffer `buffer`, as float.
  auto weightLoad = [](const BufferDesc &w, int buffer,
                       const std::string &index) {
    std::string pointer = "p.buffers[" + std::to_string(buffer) + "]";
    return w.dtype == fb::DType::F16
               ? "t_h2f(((const unsigned short *)" + pointer + ")[" + index +
                     "])"
               : "((const float *)" + pointer + ")[" + index + "]";
  };
  switch (s.kernel) {
  case fb::Kernel::Embedding: {
    const BufferDesc &table = s.inputs[0];
    std::string name = kernel(
        "embedding",
        fill(R"(
extern "C" __global__ void $NAME$(qrt_params p) {
  const int t = blockIdx.y;
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= p.tokens || i >= $DIM$)
    return;
  const long long token = ((const int *)p.buffers[1])[t];
  ((float *)p.buffers[2])[(long long)t * $DIM$ + i] = $LOAD$;
}
)",
             {{"DIM", str(table.dims[1])},
              {"LOAD", weightLoad(table, 0,
                                  "token * " + str(table.dims[1]) + " + i")}}));
    launches = {{name, uint32_t((table.dims[1] + 63) / 64), 1, 64, 0}};
    return;
  }
  case fb::Kernel::RmsNorm: {
    std::string name =
        kernel("rms_norm", fill(R"(
extern "C" __global__ void $NAME$(qrt_params p) {
  __shared__ float scratch[32];
  const int t = blockIdx.y;
  const float *x = (const float *)p.buffers[0] + (long long)t * $DIM$;
  const float *w = (const float *)p.buffers[1];
  float *y = (float *)p.buffers[2] + (long long)t * $DIM$;
  float sum = 0.0f;
  for (int i = threadIdx.x; i < $DIM$; i += blockDim.x)
    sum += x[i] * x[i];
  sum = t_block_sum(sum, scratch);
  const float r = 1.0f / sqrtf(sum / $DIM$ + $EPSILON$);
  for (int i = threadIdx.x; i < $DIM$; i += blockDim.x)
    y[i] = x[i] * r * w[i];
}
)",
                                {{"DIM", str(s.inputs[1].dims[0])},
                                 {"EPSILON", floatText(s.epsilon)}}));
    launches = {{name, 1, 1, 64, 0}};
    return;
  }
  case fb::Kernel::MatMul: {
    const BufferDesc &w = s.inputs[1];
    const int64_t n = w.dims[0], k = w.dims[1];
    // Fused: buffers x, w, residual, out (the add's); else x, w, out.
    const bool residual = fused != fusedAdd.end();
    std::string name = kernel(
        residual ? "matmul_add" : "matmul",
        fill(R"(
extern "C" __global__ void $NAME$(qrt_params p) {
  const int t = blockIdx.y;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const long long row = (long long)blockIdx.x * (blockDim.x >> 5) + warp;
  if (row >= $N$)
    return; // the whole warp
  const float *x = (const float *)p.buffers[0] + (long long)t * $K$;
  float acc = 0.0f;
  for (int c = lane; c < $K$; c += 32)
    acc += x[c] * $LOAD$;
  for (int offset = 16; offset > 0; offset >>= 1)
    acc += __shfl_down_sync(0xffffffffu, acc, offset);
  if (lane == 0)
    ((float *)p.buffers[$OUT$])[(long long)t * $N$ + row] = acc$RESIDUAL$;
}
)",
             {{"N", str(n)},
              {"OUT", residual ? "3" : "2"},
              {"RESIDUAL",
               residual ? " + ((const float *)p.buffers[2])[(long long)t * " +
                              str(n) + " + row]"
                        : ""},
              {"K", str(k)},
              {"LOAD", weightLoad(w, 1, "row * " + str(k) + " + c")}}));
    launches = {{name, uint32_t((n + 1) / 2), 1, 64, 0, {}}};
    if (residual) {
      const StepDesc &add = spec_.entries[entry].steps[fused->second];
      launches[0].buffers = {s.inputs[0], s.inputs[1], add.inputs[0],
                           add.outputs[0]};
    }
    return;
  }
  case fb::Kernel::Rotary: {
    bool fused = false;
    for (size_t f : fusedRotary)
      fused |= &spec_.entries[entry].steps[f] == &s;
    if (fused) {
      launches.clear(); // the attention's append rotates the keys
      return;
    }
    const int64_t heads = s.inputs[0].dims[2], headDim = s.inputs[0].dims[3];
    std::string out = str(s.inputs.size()); // outputs follow the inputs
    std::string name =
        kernel("rotary", fill(R"(
extern "C" __global__ void $NAME$(qrt_params p) {
  const int t = blockIdx.y;
  const long long pos = *(const int *)p.position_address + t;
  const float *x = (const float *)p.buffers[0] + (long long)t * $HEADS$ * $HEAD_DIM$;
  float *y = (float *)p.buffers[$OUT$] + (long long)t * $HEADS$ * $HEAD_DIM$;
  for (int h = threadIdx.x; h < $HEADS$; h += blockDim.x)
$ROTATE$
}
)",
                              {{"HEADS", str(heads)},
                               {"HEAD_DIM", str(headDim)},
                               {"OUT", out},
                               {"ROTATE", rotate(s, "x", "y")}}));
    launches = {{name, 1, 1, 32, 0}};
    return;
  }
  case fb::Kernel::Attention: {
    // Launch 1: append k (rotated here when fused) and v to the cache.
    const StepDesc *rotaryK = nullptr;
    for (size_t f : fusedRotary) {
      const StepDesc &r = spec_.entries[entry].steps[f];
      if (r.outputs[0].offset == s.inputs[1].offset)
        rotaryK = &r;
    }
    const int64_t heads = s.heads, kvHeads = s.kvHeads, headDim = s.headDim;
    std::map<std::string, std::string> values = {
        {"HEADS", str(heads)},
        {"KV_HEADS", str(kvHeads)},
        {"HEAD_DIM", str(headDim)},
        {"LAYER", str(s.layer)},
        {"SCALE", floatText(s.scale)},
        {"CAUSAL", s.causal ? "1" : "0"},
        {"CAPACITY", str(spec_.kvCache->capacity)},
        {"ROTATE", rotaryK ? rotate(*rotaryK, "kc + pos * " + str(headDim),
                                    "kc + pos * " + str(headDim))
                           : ""}};
    // The rotation works on one cached head at a time: h indexes KV heads,
    // the head's rows are `context` apart.
    std::string append = R"(
extern "C" __global__ void $NAME$(qrt_params p) {
  const int t = blockIdx.y;
  const long long pos = *(const int *)p.position_address + t, context = p.context;
  const long long layerStride = 2LL * $KV_HEADS$ * context * $HEAD_DIM$;
  float *keys = (float *)p.kv_cache + $LAYER$LL * layerStride;
  float *values = keys + layerStride / 2;
  const float *k = (const float *)p.buffers[1] + (long long)t * $KV_HEADS$ * $HEAD_DIM$;
  const float *v = (const float *)p.buffers[2] + (long long)t * $KV_HEADS$ * $HEAD_DIM$;
  for (int i = threadIdx.x; i < $KV_HEADS$ * $HEAD_DIM$; i += blockDim.x) {
    const long long at = ((long long)(i / $HEAD_DIM$) * context + pos) * $HEAD_DIM$ + i % $HEAD_DIM$;
    keys[at] = k[i];
    values[at] = v[i];
  }
  __syncthreads();
  for (int kvh = threadIdx.x; kvh < $KV_HEADS$; kvh += blockDim.x) {
    float *kc = keys + (long long)kvh * context * $HEAD_DIM$;
    const int h = 0;
$ROTATE$
  }
}
)";
    std::string appendName = kernel("attention_append", fill(append, values));
    std::string attend = R"(
extern "C" __global__ void $NAME$(qrt_params p) {
  __shared__ float scores[$CAPACITY$];
  __shared__ float scratch[32];
  const int h = blockIdx.x, t = blockIdx.y;
  const long long pos = *(const int *)p.position_address + t, context = p.context;
  const long long layerStride = 2LL * $KV_HEADS$ * context * $HEAD_DIM$;
  const int kvh = h / ($HEADS$ / $KV_HEADS$);
  const float *keys = (const float *)p.kv_cache + $LAYER$LL * layerStride + (long long)kvh * context * $HEAD_DIM$;
  const float *values = keys + layerStride / 2;
  const float *q = (const float *)p.buffers[0] + ((long long)t * $HEADS$ + h) * $HEAD_DIM$;
  float *out = (float *)p.buffers[3] + ((long long)t * $HEADS$ + h) * $HEAD_DIM$;
  const int n = $CAUSAL$ ? (int)pos + 1 : (int)(pos - t) + p.tokens;
  float m = -3.0e38f;
  for (int j = threadIdx.x; j < n; j += blockDim.x) {
    float s = 0.0f;
    for (int d = 0; d < $HEAD_DIM$; ++d)
      s += q[d] * keys[(long long)j * $HEAD_DIM$ + d];
    s *= $SCALE$;
    scores[j] = s;
    m = fmaxf(m, s);
  }
  m = t_block_max(m, scratch);
  float sum = 0.0f;
  for (int j = threadIdx.x; j < n; j += blockDim.x) {
    float e = expf(scores[j] - m);
    scores[j] = e;
    sum += e;
  }
  sum = t_block_sum(sum, scratch);
  for (int d = threadIdx.x; d < $HEAD_DIM$; d += blockDim.x) {
    float acc = 0.0f;
    for (int j = 0; j < n; ++j)
      acc += scores[j] * values[(long long)j * $HEAD_DIM$ + d];
    out[d] = acc / sum;
  }
}
)";
    std::string attendName = kernel("attention", fill(attend, values));
    launches = {{appendName, 1, 1, 32, 0},
              {attendName, uint32_t(heads), 1, 64, 0}};
    return;
  }
  case fb::Kernel::Add: {
    const int64_t e = perToken(s.outputs[0]);
    std::string name = kernel("add", fill(R"(
extern "C" __global__ void $NAME$(qrt_params p) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= $E$)
    return;
  for (int t = blockIdx.y * 4; t < p.tokens && t < (int)blockIdx.y * 4 + 4; ++t) {
    const long long o = (long long)t * $E$ + i;
    ((float *)p.buffers[2])[o] = ((const float *)p.buffers[0])[o] + ((const float *)p.buffers[1])[o];
  }
}
)",
                                          {{"E", str(e)}}));
    launches = {{name, uint32_t((e + 63) / 64), 4, 64, 0}};
    return;
  }
  case fb::Kernel::SwiGlu: {
    const int64_t e = perToken(s.outputs[0]);
    std::string name = kernel("swiglu", fill(R"(
extern "C" __global__ void $NAME$(qrt_params p) {
  const long long n = (long long)p.tokens * $E$;
  for (long long i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const float g = ((const float *)p.buffers[0])[i];
    ((float *)p.buffers[2])[i] = g / (1.0f + expf(-g)) * ((const float *)p.buffers[1])[i];
  }
}
)",
                                             {{"E", str(e)}}));
    launches = {{name, 3, 0, 64, 0}};
    return;
  }
  case fb::Kernel::DequantMatMul:
    break;
  }
  throw std::logic_error(std::string("no test CUDA kernel for ") +
                         fb::EnumNameKernel(s.kernel));
}

cuda::ExecutableDesc Generator::run() {
  cuda::ExecutableDesc executable;
  source_ = std::string(cuda::kKernelParamsSource) + kPrelude;
  for (size_t e = 0; e < spec_.entries.size(); ++e) {
    const std::vector<StepDesc> &steps = spec_.entries[e].steps;
    // Rotary steps of keys (in place, by base) the attention can do.
    std::vector<size_t> fused;
    if (options_.fuseRotaryK)
      for (size_t i = 0; i < steps.size(); ++i) {
        const StepDesc &r = steps[i];
        if (r.kernel != fb::Kernel::Rotary || r.inputs.size() != 1 ||
            r.inputs[0].offset != r.outputs[0].offset)
          continue;
        for (const StepDesc &a : steps)
          if (a.kernel == fb::Kernel::Attention &&
              a.inputs[1].offset == r.outputs[0].offset)
            fused.push_back(i);
      }
    // Matmuls whose output only the next step, an add, reads (as its second
    // input): the add runs in the matmul's epilogue.
    std::map<size_t, size_t> adds;
    if (options_.fuseResidual)
      for (size_t i = 0; i + 1 < steps.size(); ++i) {
        const StepDesc &m = steps[i], &a = steps[i + 1];
        if (m.kernel != fb::Kernel::MatMul || a.kernel != fb::Kernel::Add ||
            a.inputs[1].offset != m.outputs[0].offset)
          continue;
        bool readLater = false;
        for (size_t j = i + 2; j < steps.size(); ++j)
          for (const BufferDesc &b : steps[j].inputs)
            readLater |= b.kind == fb::BufferKind::Arena &&
                         b.offset == m.outputs[0].offset;
        if (!readLater)
          adds[i] = i + 1;
      }
    std::vector<std::vector<cuda::LaunchDesc>> launches(steps.size());
    for (size_t i = 0; i < steps.size(); ++i)
      step(e, steps[i], fused, adds, i, launches[i]);
    executable.launches.push_back(std::move(launches));
  }
  executable.kernels = kernels_;
  executable.modules.push_back(
      {"cuda-source", "", std::vector<uint8_t>(source_.begin(), source_.end())});
  return executable;
}

} // namespace

cuda::ExecutableDesc tinyCudaExecutable(const PlanDesc &spec,
                                        const TinyCudaOptions &options) {
  return Generator(spec, options).run();
}

std::string attachTinyCudaKernels(PlanDesc &spec,
                                  const TinyCudaOptions &options) {
  cuda::ExecutableDesc executable = tinyCudaExecutable(spec, options);
  std::string source(executable.modules[0].code.begin(),
                     executable.modules[0].code.end());
  spec = withExecutable(std::move(spec), executable);
  return source;
}

} // namespace qrt::test
