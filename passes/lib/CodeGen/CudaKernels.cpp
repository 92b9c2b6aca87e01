//===- CudaKernels.cpp - CUDA C++ for the kernels of a plan ---------------===//
//
// Kernels are written here as CUDA C++ templates with $PLACEHOLDER$ holes
// that each spec fills with constants (shapes, scheme, epilogue) and with
// the code pieces of its weight format; nothing is decided at run time that
// the IR already fixed. Numerics follow the CPU kernels (runtime/src/cpu):
// f32 accumulation, the same formulas for RMSNorm, SwiGLU and rotary angles
// (computed in double), so both backends agree to rounding.
//
//===----------------------------------------------------------------------===//

#include "quant/CodeGen/CudaKernels.h"

#include "qrt/core/QuantizedWeight.h"
#include "qrt/cuda/KernelAbi.h"

#include <cassert>
#include <cstdio>
#include <cstring>
#include <sstream>

using namespace mlir::qllm::cuda;

namespace {

std::string str(int64_t v) { return std::to_string(v); }

/// A float literal that reads back as exactly `v`.
std::string floatLiteral(float v) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.9gf", static_cast<double>(v));
  std::string s = buffer;
  if (s.find_first_of(".e") == std::string::npos &&
      s.find("inf") == std::string::npos)
    s.insert(s.size() - 1, ".0");
  return s;
}

/// Replaces every $KEY$ of `text` by its value.
std::string fill(std::string text,
                 const std::vector<std::pair<std::string, std::string>> &vars) {
  for (const auto &[key, value] : vars) {
    std::string hole = "$" + key + "$";
    for (size_t at = text.find(hole); at != std::string::npos;
         at = text.find(hole, at + value.size()))
      text.replace(at, hole.size(), value);
  }
  return text;
}

/// `text` with every line after the first indented by `spaces` (a
/// multi-line snippet filled into an indented hole).
std::string indentTail(const std::string &text, int spaces) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    out += text[i];
    if (text[i] == '\n' && i + 1 < text.size())
      out.append(static_cast<size_t>(spaces), ' ');
  }
  return out;
}

/// Threads per block for `work` independent items: a multiple of 32, at
/// most `limit`.
int64_t blockFor(int64_t work, int64_t limit = 256) {
  int64_t threads = (work + 31) / 32 * 32;
  return std::max<int64_t>(32, std::min(threads, limit));
}

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

const char *kPrelude = R"(
// Helpers of every generated module. QRT_CUDA_EMULATION: the runtime's tests
// compile the module as host C++ for an emulator of the CUDA execution model.
#ifndef QRT_CUDA_EMULATION
#define QRT_DEVICE static __device__ __forceinline__
QRT_DEVICE float qrt_h2f(unsigned short h) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
}
QRT_DEVICE float qrt_bits2f(unsigned int u) { return __uint_as_float(u); }
#define QRT_NEG_INF (-__int_as_float(0x7f800000))
// c + the dot product of the four signed bytes of a and b.
QRT_DEVICE int qrt_dp4a(int a, int b, int c) { return __dp4a(a, b, c); }
// x rounded to the nearest integer, ties to even.
QRT_DEVICE int qrt_rint(float x) { return __float2int_rn(x); }
#else
#define QRT_DEVICE static inline
QRT_DEVICE float qrt_bits2f(unsigned int u) {
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
QRT_DEVICE float qrt_h2f(unsigned short h) {
  unsigned int sign = (unsigned int)(h >> 15) << 31;
  unsigned int exponent = (h >> 10) & 31u, mantissa = h & 1023u;
  if (exponent == 0) {
    float f = (float)mantissa * 5.9604644775390625e-8f; // 2^-24
    return sign ? -f : f;
  }
  if (exponent == 31)
    return qrt_bits2f(sign | 0x7f800000u | (mantissa << 13));
  return qrt_bits2f(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}
#define QRT_NEG_INF (-__builtin_inff())
QRT_DEVICE int qrt_dp4a(int a, int b, int c) {
  for (int i = 0; i < 4; ++i)
    c += (int)(signed char)(a >> (8 * i)) * (int)(signed char)(b >> (8 * i));
  return c;
}
QRT_DEVICE int qrt_rint(float x) { return (int)__builtin_rintf(x); }
#endif
QRT_DEVICE float qrt_bf2f(unsigned short h) {
  return qrt_bits2f((unsigned int)h << 16);
}

// Code i of a little-endian bit stream of `bits`-bit codes (WeightFormat.h).
QRT_DEVICE int qrt_code(const unsigned char *stream, long long i, int bits) {
  long long bit = i * bits;
  unsigned int v = stream[bit >> 3];
  int shift = (int)(bit & 7);
  if (shift + bits > 8)
    v |= (unsigned int)stream[(bit >> 3) + 1] << 8;
  return (int)((v >> shift) & ((1u << bits) - 1u));
}

QRT_DEVICE float qrt_warp_sum(float v) {
  for (int offset = 16; offset > 0; offset >>= 1)
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

QRT_DEVICE float qrt_warp_max(float v) {
  for (int offset = 16; offset > 0; offset >>= 1)
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

QRT_DEVICE int qrt_warp_sum_int(int v) {
  for (int offset = 16; offset > 0; offset >>= 1)
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// Maximum over the block (blockDim.x a multiple of 32); every thread gets
// it. `scratch` is a __shared__ float[32].
QRT_DEVICE float qrt_block_max(float v, float *scratch) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int warps = blockDim.x >> 5;
  v = qrt_warp_max(v);
  if (lane == 0)
    scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : 0.0f;
  v = qrt_warp_max(v);
  __syncthreads();
  return v;
}

// Sum over the block (blockDim.x a multiple of 32); every thread gets it.
// `scratch` is a __shared__ float[32].
QRT_DEVICE float qrt_block_sum(float v, float *scratch) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int warps = blockDim.x >> 5;
  v = qrt_warp_sum(v);
  if (lane == 0)
    scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : 0.0f;
  v = qrt_warp_sum(v);
  __syncthreads();
  return v;
}
)";

/// How a kernel reads one weight element w[r][c] (as float) and, for the
/// GEMV, a vector of consecutive elements.
struct WeightCode {
  /// Statements before the loops (pointers).
  std::string setup;
  /// An expression: w[r][c] for long long r, c.
  std::string element;
  /// Elements per lane per GEMV step (1: the element expression).
  int vector = 1;
  /// Statements that load `vector` elements of row r from column c0 into
  /// float wv[vector] and leave the per-group factor in `wscale`, the
  /// zero point in `wzero` (0 for none): w = (wv - wzero) * wscale.
  std::string vectorLoad;
  /// Buffers the weight takes (x is buffer 0, the weight starts at 1).
  int buffers = 1;
};

std::string scaleLoad(qrt::ScaleType type, const std::string &pointer,
                      const std::string &index) {
  switch (type) {
  case qrt::ScaleType::F32:
    return "((const float *)" + pointer + ")[" + index + "]";
  case qrt::ScaleType::F16:
    return "qrt_h2f(((const unsigned short *)" + pointer + ")[" + index + "])";
  case qrt::ScaleType::BF16:
    return "qrt_bf2f(((const unsigned short *)" + pointer + ")[" + index + "])";
  }
  return "";
}

WeightCode weightCode(const MatmulSpec &spec) {
  WeightCode code;
  const std::string K = str(spec.cols);
  switch (spec.storage) {
  case WeightStorage::F32:
    code.setup = "const float *__restrict__ w = (const float *)p.buffers[1];\n";
    code.element = "w[r * " + K + "LL + c]";
    if (spec.cols % 4 == 0) {
      code.vector = 4;
      code.vectorLoad =
          "float4 w4 = *(const float4 *)(w + r * " + K +
          "LL + c0);\n"
          "wv[0] = w4.x; wv[1] = w4.y; wv[2] = w4.z; wv[3] = w4.w;\n"
          "const float wscale = 1.0f, wzero = 0.0f;\n";
    }
    return code;
  case WeightStorage::F16:
    code.setup = "const unsigned short *__restrict__ w = (const unsigned "
                 "short *)p.buffers[1];\n";
    code.element = "qrt_h2f(w[r * " + K + "LL + c])";
    if (spec.cols % 8 == 0) {
      code.vector = 8;
      code.vectorLoad =
          "uint4 w4 = *(const uint4 *)(w + r * " + K +
          "LL + c0);\n"
          "const unsigned int wu[4] = {w4.x, w4.y, w4.z, w4.w};\n"
          "#pragma unroll\n"
          "for (int i = 0; i < 4; ++i) {\n"
          "  wv[2 * i] = qrt_h2f((unsigned short)(wu[i] & 0xffffu));\n"
          "  wv[2 * i + 1] = qrt_h2f((unsigned short)(wu[i] >> 16));\n"
          "}\n"
          "const float wscale = 1.0f, wzero = 0.0f;\n";
    }
    return code;
  case WeightStorage::IntN: {
    const qrt::IntNScheme &s = spec.intN;
    qrt::WeightLayout layout = qrt::layoutFor(s, spec.rows, spec.cols);
    code.buffers = static_cast<int>(layout.components.size());
    const int64_t rowBytes = qrt::packedBytes(spec.cols, s.bits);
    const int64_t groups = qrt::numGroups(spec.cols, s.groupSize);
    int next = 3; // data 1, scales 2
    std::string zeroPoints, groupIndex;
    if (!s.symmetric)
      zeroPoints = "p.buffers[" + str(next++) + "]";
    if (s.actOrder)
      groupIndex = "p.buffers[" + str(next++) + "]";
    code.setup =
        "const unsigned char *__restrict__ wdata = (const unsigned char "
        "*)p.buffers[1];\n"
        "const void *wscales = (const void *)p.buffers[2];\n";
    if (!zeroPoints.empty())
      code.setup += "const unsigned char *__restrict__ wzeros = (const "
                    "unsigned char *)" +
                    zeroPoints + ";\n";
    if (!groupIndex.empty())
      code.setup +=
          "const int *__restrict__ wgroup = (const int *)" + groupIndex + ";\n";
    auto groupOf = [&](const std::string &c) {
      if (s.actOrder)
        return "(long long)wgroup[" + c + "]";
      if (s.groupSize == qrt::kPerChannel)
        return std::string("0LL");
      return "(" + c + ") / " + str(s.groupSize) + "LL";
    };
    auto zeroOf = [&](const std::string &r, const std::string &g) {
      if (s.symmetric)
        return str(qrt::implicitZeroPoint(s.bits));
      return "qrt_code(wzeros + (" + r + ") * " +
             str(qrt::packedBytes(groups, s.bits)) + "LL, " + g + ", " +
             str(s.bits) + ")";
    };
    std::string scaleOf =
        scaleLoad(s.scaleType, "wscales", "r * " + str(groups) + "LL + $G$");
    code.element = "(float)(qrt_code(wdata + r * " + str(rowBytes) + "LL, c, " +
                   str(s.bits) + ") - " +
                   fill(zeroOf("r", "$G$"), {{"G", groupOf("c")}}) + ") * " +
                   fill(scaleOf, {{"G", groupOf("c")}});
    // Vector paths: whole 16-byte loads that stay within one group.
    int vector = s.bits == 4 ? 32 : s.bits == 8 ? 16 : 0;
    bool fits = vector && !s.actOrder && spec.cols % vector == 0 &&
                (s.groupSize == qrt::kPerChannel || s.groupSize % vector == 0);
    if (fits) {
      code.vector = vector;
      std::string load = "uint4 w4 = *(const uint4 *)(wdata + r * " +
                         str(rowBytes) + "LL + c0 / " + str(8 / s.bits) +
                         ");\n"
                         "const unsigned int wu[4] = {w4.x, w4.y, w4.z, "
                         "w4.w};\n";
      if (s.bits == 4)
        load += "#pragma unroll\n"
                "for (int i = 0; i < 32; ++i)\n"
                "  wv[i] = (float)((wu[i >> 3] >> (4 * (i & 7))) & 15u);\n";
      else
        load += "#pragma unroll\n"
                "for (int i = 0; i < 16; ++i)\n"
                "  wv[i] = (float)((wu[i >> 2] >> (8 * (i & 3))) & 255u);\n";
      load += "const long long g = " + groupOf("c0") + ";\n";
      load += "const float wscale = " + fill(scaleOf, {{"G", "g"}}) + ";\n";
      load += "const float wzero = (float)" + zeroOf("r", "g") + ";\n";
      code.vectorLoad = load;
    }
    return code;
  }
  case WeightStorage::Float4: {
    const qrt::Float4Scheme &s = spec.float4;
    qrt::WeightLayout layout = qrt::layoutFor(s, spec.rows, spec.cols);
    code.buffers = static_cast<int>(layout.components.size());
    const int64_t rowBytes = qrt::packedBytes(spec.cols, 4);
    const int64_t blocks = qrt::numGroups(spec.cols, s.blockSize);
    code.setup = "const unsigned char *__restrict__ wdata = (const unsigned "
                 "char *)p.buffers[1];\n"
                 "const void *wscales = (const void *)p.buffers[2];\n";
    std::string absmax;
    if (s.doubleQuant) {
      code.setup += "const float *__restrict__ wdq = (const float "
                    "*)p.buffers[3];\n"
                    "const float wdq_offset = *(const float *)p.buffers[4];\n";
      absmax = "(qrt_map8[((const unsigned char *)wscales)[$I$]] * wdq[($I$) "
               "/ " +
               str(s.doubleQuantBlockSize) + "LL] + wdq_offset)";
    } else {
      absmax = scaleLoad(s.scaleType, "wscales", "$I$");
    }
    std::string blockOf = "(c) / " + str(s.blockSize) + "LL";
    code.element =
        std::string("qrt_") + qrt::float4CodesName(s.codes) +
        "[qrt_code(wdata + r * " + str(rowBytes) + "LL, c, 4)] * " +
        fill(absmax, {{"I", "(r * " + str(blocks) + "LL + " + blockOf + ")"}});
    if (spec.cols % 32 == 0 && s.blockSize % 32 == 0) {
      code.vector = 32;
      code.vectorLoad =
          "uint4 w4 = *(const uint4 *)(wdata + r * " + str(rowBytes) +
          "LL + c0 / 2);\n"
          "const unsigned int wu[4] = {w4.x, w4.y, w4.z, w4.w};\n"
          "#pragma unroll\n"
          "for (int i = 0; i < 32; ++i)\n"
          "  wv[i] = codes16[(wu[i >> 3] >> (4 * (i & 7))) & 15u];\n"
          "const float wscale = " +
          fill(absmax, {{"I", "(r * " + str(blocks) + "LL + c0 / " +
                                  str(s.blockSize) + "LL)"}}) +
          ";\n"
          "const float wzero = 0.0f;\n";
    }
    return code;
  }
  }
  return code;
}

std::string schemeStem(const MatmulSpec &spec) {
  switch (spec.storage) {
  case WeightStorage::F32:
    return "f32";
  case WeightStorage::F16:
    return "f16";
  case WeightStorage::IntN: {
    const qrt::IntNScheme &s = spec.intN;
    std::string stem =
        "int" + str(s.bits) + "_" +
        (s.groupSize == qrt::kPerChannel ? std::string("pc")
                                         : "g" + str(s.groupSize)) +
        (s.symmetric ? "_sym" : "") + (s.actOrder ? "_act" : "") + "_" +
        qrt::scaleTypeName(s.scaleType);
    return stem;
  }
  case WeightStorage::Float4:
    return qrt::float4CodesName(spec.float4.codes) + std::string("_b") +
           str(spec.float4.blockSize) +
           (spec.float4.doubleQuant
                ? "_dq" + str(spec.float4.doubleQuantBlockSize)
                : std::string("_") + qrt::scaleTypeName(spec.float4.scaleType));
  }
  return "w";
}

// One warp per output row; each lane walks the row in vectors of `vector`
// elements (a 16-byte load of packed codes), dots them with x and scales per
// group; a warp sum finishes the row.
const char *kGemv = R"(
// $COMMENT$
extern "C" __global__ void __launch_bounds__($THREADS$) @NAME@(qrt_params p) {
  const float *__restrict__ x = (const float *)p.buffers[0];
  $SETUP$  float *__restrict__ out = (float *)p.buffers[$OUT$];
$NF4_SHARED$  const int lane = threadIdx.x & 31;
  const long long r = (long long)blockIdx.x * $ROWS_PER_BLOCK$ + (threadIdx.x >> 5);
  if (r >= $N$LL)
    return;
  for (int t = 0; t < p.tokens; ++t) {
    const float *__restrict__ xt = x + (long long)t * $K$LL;
    float acc = 0.0f;
$LOOP$
    acc = qrt_warp_sum(acc);
    if (lane == 0)
      out[(long long)t * $N$LL + r] = acc$EPILOGUE$;
  }
}
)";

const char *kGemvVectorLoop =
    R"(    for (long long c0 = (long long)lane * $VEC$; c0 < $K$LL; c0 += 32LL * $VEC$) {
      float wv[$VEC$];
      $LOAD$      float dot = 0.0f, xsum = 0.0f;
#pragma unroll
      for (int i = 0; i < $VEC$; i += 4) {
        const float4 x4 = *(const float4 *)(xt + c0 + i);
        dot += wv[i] * x4.x + wv[i + 1] * x4.y + wv[i + 2] * x4.z + wv[i + 3] * x4.w;
        xsum += x4.x + x4.y + x4.z + x4.w;
      }
      acc += (dot - wzero * xsum) * wscale;
    }
)";

const char *kGemvScalarLoop =
    R"(    for (long long c = lane; c < $K$LL; c += 32)
      acc += ($ELEMENT$) * xt[c];
)";

// A 32-token x 64-row tile per block of 256 threads, 32 columns at a time:
// x and dequantized weights staged in shared memory; each thread computes 2
// tokens x 4 rows.
const char *kGemm = R"(
// $COMMENT$
extern "C" __global__ void __launch_bounds__(256) @NAME@(qrt_params p) {
  const float *__restrict__ x = (const float *)p.buffers[0];
  $SETUP$  float *__restrict__ out = (float *)p.buffers[$OUT$];
$NF4_SHARED$  __shared__ float xs[32][33];
  __shared__ float ws[64][33];
  const int tid = threadIdx.x;
  const long long n0 = (long long)blockIdx.x * 64;
  const int t0 = blockIdx.y * 32;
  const int tr = tid >> 4, tc = tid & 15;
  float acc[2][4] = {{0.0f, 0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.0f}};
  for (long long k0 = 0; k0 < $K$LL; k0 += 32) {
    for (int i = 0; i < 4; ++i) {
      const int e = tid + 256 * i, row = e >> 5, col = e & 31;
      const int t = t0 + row;
      const long long c = k0 + col;
      xs[row][col] = (t < p.tokens && c < $K$LL) ? x[(long long)t * $K$LL + c] : 0.0f;
    }
    for (int i = 0; i < 8; ++i) {
      const int e = tid + 256 * i, row = e >> 5, col = e & 31;
      const long long r = n0 + row, c = k0 + col;
      ws[row][col] = (r < $N$LL && c < $K$LL) ? ($ELEMENT$) : 0.0f;
    }
    __syncthreads();
#pragma unroll 8
    for (int kk = 0; kk < 32; ++kk) {
      const float a0 = xs[2 * tr][kk], a1 = xs[2 * tr + 1][kk];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const float b = ws[tc + 16 * j][kk];
        acc[0][j] += a0 * b;
        acc[1][j] += a1 * b;
      }
    }
    __syncthreads();
  }
  for (int i = 0; i < 2; ++i) {
    const int t = t0 + 2 * tr + i;
    if (t >= p.tokens)
      continue;
    for (int j = 0; j < 4; ++j) {
      const long long r = n0 + tc + 16 * j;
      if (r < $N$LL)
        out[(long long)t * $N$LL + r] = acc[i][j]$EPILOGUE$;
    }
  }
}
)";


// LLM.int8() (as qrt::cpu::int8Matmul): a block of 8 warps takes 32 rows
// (4 per warp) for every token. First the outlier columns over all tokens
// (bits in shared memory); then per token its absmax without the outlier
// elements, its 8-bit codes packed 4 per int in shared memory (0 in outlier
// columns), and per row the exact integer dot product with dp4a (codes
// q - 128 as signed bytes: q ^ 0x80), the outlier columns in f32, and
// y = s * (acc * absmax / 127 + outliers).
const char *kLlmInt8 = R"(
// $COMMENT$
extern "C" __global__ void __launch_bounds__(256) @NAME@(qrt_params p) {
  const float *__restrict__ x = (const float *)p.buffers[0];
  const unsigned char *__restrict__ wdata = (const unsigned char *)p.buffers[1];
  const void *wscales = (const void *)p.buffers[2];
  float *__restrict__ out = (float *)p.buffers[$OUT$];
  __shared__ unsigned int outlier[$WORDS$];
  __shared__ int xq[$QUADS$];
  __shared__ float scratch[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int w = threadIdx.x; w < $WORDS$; w += 256) {
    unsigned int bits = 0u;
$OUTLIER_SCAN$    outlier[w] = bits;
  }
  __syncthreads();
  for (int t = 0; t < p.tokens; ++t) {
    const float *__restrict__ xt = x + (long long)t * $K$LL;
    float m = 0.0f;
    for (int c = threadIdx.x; c < $K$; c += 256) {
      const float v = fabsf(xt[c]);
      if ($KEEP$) // elements at or above the threshold left out
        m = fmaxf(m, v);
    }
    m = qrt_block_max(m, scratch);
    const float inverse = m > 0.0f ? 127.0f / m : 0.0f;
    for (int i = threadIdx.x; i < $QUADS$; i += 256) {
      unsigned int packed = 0u;
      for (int b = 0; b < 4; ++b) {
        const int c = 4 * i + b;
        int q = 0;
        if (c < $K$ && !((outlier[c >> 5] >> (c & 31)) & 1u))
          q = qrt_rint(xt[c] * inverse);
        packed |= (unsigned int)(q & 255) << (8 * b);
      }
      xq[i] = (int)packed;
    }
    __syncthreads();
    for (int j = 0; j < 4; ++j) {
      const long long r = (long long)blockIdx.x * 32 + warp * 4 + j;
      if (r >= $N$LL)
        break;
      const unsigned char *__restrict__ row = wdata + r * $K$LL;
      int acc = 0;
      for (int i = lane; i < $WHOLE_QUADS$; i += 32) {
$LOAD_QUAD$        acc = qrt_dp4a(xq[i], (int)(wq ^ 0x80808080u), acc);
      }
      for (int c = $WHOLE_QUADS$ * 4 + lane; c < $K$; c += 32)
        acc += (int)(signed char)(xq[c >> 2] >> (8 * (c & 3))) * ((int)row[c] - 128);
      float outliers = 0.0f;
      for (int w = lane; w < $WORDS$; w += 32)
        for (unsigned int bits = outlier[w]; bits != 0u; bits &= bits - 1u) {
          int b = 0;
          while (!((bits >> b) & 1u))
            ++b;
          const int c = 32 * w + b;
          outliers += xt[c] * (float)((int)row[c] - 128);
        }
      acc = qrt_warp_sum_int(acc);
      outliers = qrt_warp_sum(outliers);
      if (lane == 0)
        out[(long long)t * $N$LL + r] =
            $SCALE$ * ((float)acc * (m / 127.0f) + outliers)$EPILOGUE$;
    }
    __syncthreads();
  }
}
)";

} // namespace

std::string CudaModule::addKernel(const std::string &stem,
                                  const std::string &text) {
  assert(text.find('$') == std::string::npos && "unfilled placeholder");
  auto it = byText.find(text);
  if (it != byText.end())
    return it->second;
  int index = stems[stem]++;
  std::string name = "qrt_" + stem + (index ? "_" + str(index) : "");
  std::string body = text;
  for (size_t at = body.find("@NAME@"); at != std::string::npos;
       at = body.find("@NAME@", at))
    body.replace(at, 6, name);
  byText.emplace(text, name);
  kernels.emplace_back(name, std::move(body));
  return name;
}

Launch CudaModule::embedding(int64_t vocab, int64_t dim, bool f16Table) {
  const char *text = R"(
// embedding: out[t] = table[tokens[t]], table [$V$, $D$] $TYPE$
extern "C" __global__ void __launch_bounds__($THREADS$) @NAME@(qrt_params p) {
  const $ELEM$ *__restrict__ table = (const $ELEM$ *)p.buffers[0];
  const int *__restrict__ tokens = (const int *)p.buffers[1];
  float *__restrict__ out = (float *)p.buffers[2];
  const int t = blockIdx.y;
  const int id = tokens[t];
  const bool valid = id >= 0 && id < $V$;
  for (long long c = (long long)blockIdx.x * $THREADS$ + threadIdx.x; c < $D$LL;
       c += (long long)gridDim.x * $THREADS$)
    out[(long long)t * $D$LL + c] = valid ? $LOAD$ : 0.0f;
}
)";
  int64_t threads = blockFor(dim);
  Launch launch;
  launch.function = addKernel(
      "embedding_" + str(vocab) + "x" + str(dim) + (f16Table ? "_f16" : "_f32"),
      fill(text,
           {{"V", str(vocab)},
            {"D", str(dim)},
            {"TYPE", f16Table ? "f16" : "f32"},
            {"ELEM", f16Table ? "unsigned short" : "float"},
            {"THREADS", str(threads)},
            {"LOAD",
             f16Table ? "qrt_h2f(table[(long long)id * " + str(dim) + "LL + c])"
                      : "table[(long long)id * " + str(dim) + "LL + c]"}}));
  launch.gridX =
      static_cast<uint32_t>(std::min<int64_t>(ceilDiv(dim, threads), 64));
  launch.tokensPerBlock = 1;
  launch.blockX = static_cast<uint32_t>(threads);
  return launch;
}

Launch CudaModule::rmsNorm(int64_t dim, float epsilon) {
  const char *text = R"(
// rms_norm over $D$ features, epsilon $EPS$: one block per token
extern "C" __global__ void __launch_bounds__($THREADS$) @NAME@(qrt_params p) {
  const float *__restrict__ x = (const float *)p.buffers[0] + (long long)blockIdx.y * $D$LL;
  const float *__restrict__ w = (const float *)p.buffers[1];
  float *out = (float *)p.buffers[2] + (long long)blockIdx.y * $D$LL;
  __shared__ float scratch[32];
  float sum = 0.0f;
  for (int c = threadIdx.x; c < $D$; c += $THREADS$)
    sum += x[c] * x[c];
  sum = qrt_block_sum(sum, scratch);
  const float scale = 1.0f / sqrtf(sum / (float)$D$ + $EPS$);
  for (int c = threadIdx.x; c < $D$; c += $THREADS$)
    out[c] = x[c] * scale * w[c];
}
)";
  int64_t threads = blockFor(dim, 512);
  Launch launch;
  launch.function = addKernel("rms_norm_" + str(dim),
                              fill(text, {{"D", str(dim)},
                                          {"EPS", floatLiteral(epsilon)},
                                          {"THREADS", str(threads)}}));
  launch.gridX = 1;
  launch.tokensPerBlock = 1;
  launch.blockX = static_cast<uint32_t>(threads);
  return launch;
}

Launch CudaModule::llmInt8Matmul(const MatmulSpec &spec) {
  assert(spec.storage == WeightStorage::IntN && spec.intN.bits == 8 &&
         spec.intN.groupSize == qrt::kPerChannel && spec.intN.symmetric &&
         !spec.intN.actOrder && spec.cols <= kMaxLlmInt8Cols &&
         "LLM.int8() needs an 8-bit per-channel symmetric weight");
  const int64_t k = spec.cols, words = ceilDiv(k, 32), quads = ceilDiv(k, 4);
  const int out = 3 + (spec.addResidual ? 1 : 0);
  std::string epilogue;
  if (spec.addResidual)
    epilogue = " + ((const float *)p.buffers[3])[(long long)t * " +
               str(spec.rows) + "LL + r]";
  const bool decompose = spec.outlierThreshold > 0.0f;
  const std::string threshold =
      decompose ? floatLiteral(spec.outlierThreshold) : "QRT_NEG_INF";
  // Outlier bits of columns [32w, 32w + 32): some token's |x| >= threshold.
  std::string scan =
      decompose ? "    for (int b = 0; b < 32; ++b) {\n"
                  "      const int c = 32 * w + b;\n"
                  "      if (c >= $K$)\n"
                  "        break;\n"
                  "      for (int t = 0; t < p.tokens; ++t)\n"
                  "        if (fabsf(x[(long long)t * $K$LL + c]) >= $THRESHOLD$) {\n"
                  "          bits |= 1u << b;\n"
                  "          break;\n"
                  "        }\n"
                  "    }\n"
                : "";
  // Four codes of the row from column 4i: one aligned load when rows start
  // at a multiple of 4 bytes, else four byte loads.
  std::string loadQuad =
      k % 4 == 0
          ? "        const unsigned int wq = ((const unsigned int *)row)[i];\n"
          : "        const unsigned int wq = (unsigned int)row[4 * i] |\n"
            "            ((unsigned int)row[4 * i + 1] << 8) |\n"
            "            ((unsigned int)row[4 * i + 2] << 16) |\n"
            "            ((unsigned int)row[4 * i + 3] << 24);\n";
  std::string comment =
      "LLM.int8() out[t, " + str(spec.rows) + "] = x[t, " + str(k) +
      "] @ w^T, w " + schemeStem(spec) + ", 8-bit activations, " +
      (decompose ? "outlier columns at |x| >= " + threshold
                 : std::string("no outlier columns")) +
      (spec.addResidual ? " + residual" : "");
  std::string stem = "llm_int8_" + schemeStem(spec) + "_" +
                     (decompose ? "t" + str(static_cast<int64_t>(
                                            spec.outlierThreshold * 1000))
                                : std::string("t0")) +
                     "_" + str(spec.rows) + "x" + str(k) +
                     (spec.addResidual ? "_add" : "");
  Launch launch;
  launch.function = addKernel(
      stem,
      fill(fill(kLlmInt8, {{"OUTLIER_SCAN", scan}, {"LOAD_QUAD", loadQuad}}),
           {{"COMMENT", comment},
            {"OUT", str(out)},
            {"WORDS", str(words)},
            {"QUADS", str(quads)},
            {"WHOLE_QUADS", str(k / 4)},
            {"K", str(k)},
            {"N", str(spec.rows)},
            {"THRESHOLD", threshold},
            {"KEEP", decompose ? "!(v >= " + threshold + ")" : "true"},
            {"SCALE", scaleLoad(spec.intN.scaleType, "wscales", "r")},
            {"EPILOGUE", epilogue}}));
  launch.gridX = static_cast<uint32_t>(ceilDiv(spec.rows, 32));
  launch.tokensPerBlock = 0; // every block loops over the tokens
  launch.blockX = 256;
  return launch;
}

Launch CudaModule::matmul(const MatmulSpec &spec) {
  if (spec.llmInt8)
    return llmInt8Matmul(spec);
  WeightCode code = weightCode(spec);
  if (spec.storage == WeightStorage::Float4)
    needsFloat4Tables = true;
  const int out = 1 + code.buffers + (spec.addResidual ? 1 : 0);
  std::string epilogue;
  if (spec.addResidual)
    epilogue = " + ((const float *)p.buffers[" + str(out - 1) +
               "])[(long long)t * " + str(spec.rows) + "LL + r]";
  std::string comment = std::string(spec.gemm ? "dequant GEMM" : "GEMV") +
                        " out[t, " + str(spec.rows) + "] = x[t, " +
                        str(spec.cols) + "] @ w^T, w " + schemeStem(spec) +
                        (spec.addResidual ? " + residual" : "");
  std::string nf4Shared;
  if (spec.storage == WeightStorage::Float4 && !spec.gemm && code.vector > 1)
    nf4Shared = std::string("  __shared__ float codes16[16];\n"
                            "  if (threadIdx.x < 16)\n"
                            "    codes16[threadIdx.x] = qrt_") +
                qrt::float4CodesName(spec.float4.codes) +
                "[threadIdx.x];\n"
                "  __syncthreads();\n";
  std::string stem = std::string(spec.gemm ? "gemm_" : "gemv_") +
                     schemeStem(spec) + "_" + str(spec.rows) + "x" +
                     str(spec.cols) + (spec.addResidual ? "_add" : "");
  Launch launch;
  if (spec.gemm) {
    launch.function =
        addKernel(stem, fill(kGemm, {{"COMMENT", comment},
                                     {"SETUP", indentTail(code.setup, 2)},
                                     {"OUT", str(out)},
                                     {"NF4_SHARED", ""},
                                     {"ELEMENT", code.element},
                                     {"K", str(spec.cols)},
                                     {"N", str(spec.rows)},
                                     {"EPILOGUE", epilogue}}));
    launch.gridX = static_cast<uint32_t>(ceilDiv(spec.rows, 64));
    launch.tokensPerBlock = 32;
    launch.blockX = 256;
    return launch;
  }
  const int rowsPerBlock = 4;
  std::string loop =
      code.vector > 1
          ? fill(kGemvVectorLoop, {{"VEC", str(code.vector)},
                                   {"K", str(spec.cols)},
                                   {"LOAD", indentTail(code.vectorLoad, 6)}})
          : fill(kGemvScalarLoop,
                 {{"K", str(spec.cols)}, {"ELEMENT", code.element}});
  launch.function =
      addKernel(stem, fill(kGemv, {{"COMMENT", comment},
                                   {"THREADS", str(32 * rowsPerBlock)},
                                   {"SETUP", indentTail(code.setup, 2)},
                                   {"OUT", str(out)},
                                   {"NF4_SHARED", nf4Shared},
                                   {"ROWS_PER_BLOCK", str(rowsPerBlock)},
                                   {"N", str(spec.rows)},
                                   {"K", str(spec.cols)},
                                   {"LOOP", loop},
                                   {"EPILOGUE", epilogue}}));
  launch.gridX = static_cast<uint32_t>(ceilDiv(spec.rows, rowsPerBlock));
  launch.tokensPerBlock = 0; // one block row covers every token
  launch.blockX = 32 * rowsPerBlock;
  return launch;
}

Launch CudaModule::rotary(const RotarySpec &spec) {
  const char *text = R"(
// rotary ($CONVENTION$) of x [t, $H$, $DH$], rotary dim $RD$, $ANGLES$
extern "C" __global__ void __launch_bounds__($THREADS$) @NAME@(qrt_params p) {
  const float *x = (const float *)p.buffers[0];
  float *out = (float *)p.buffers[$OUT$];
  const int t = blockIdx.y;
  const long long token = (long long)t * $H$ * $DH$;
  const long long position = (long long)*(const int *)p.position_address + t;
  for (int item = blockIdx.x * $THREADS$ + threadIdx.x; item < $H$ * $HALF$;
       item += gridDim.x * $THREADS$) {
    const int h = item / $HALF$, i = item % $HALF$;
$ANGLE_CODE$
    const long long i0 = token + (long long)h * $DH$ + $FIRST$;
    const long long i1 = token + (long long)h * $DH$ + $SECOND$;
    const float a = x[i0], b = x[i1];
    out[i0] = a * cosine - b * sine;
    out[i1] = a * sine + b * cosine;
  }
$COPY$}
)";
  const int64_t half = spec.rotaryDim / 2;
  std::string angle;
  if (spec.tables)
    angle = "    const float cosine = ((const float *)p.buffers[1])[position "
            "* $HALF$ + i];\n"
            "    const float sine = ((const float *)p.buffers[2])[position * "
            "$HALF$ + i];";
  else
    angle = "    const double angle = (double)position * pow((double)$BASE$, "
            "-2.0 * (double)i / (double)$RD$);\n"
            "    const float cosine = (float)cos(angle), sine = "
            "(float)sin(angle);";
  std::string copy;
  if (!spec.inPlace && spec.rotaryDim < spec.headDim)
    copy = "  for (int item = blockIdx.x * $THREADS$ + threadIdx.x; item < $H$ "
           "* ($DH$ - $RD$); item += gridDim.x * $THREADS$) {\n"
           "    const long long at = token + (long long)(item / ($DH$ - "
           "$RD$)) * $DH$ + $RD$ + item % ($DH$ - $RD$);\n"
           "    out[at] = x[at];\n"
           "  }\n";
  int64_t work = spec.heads * std::max<int64_t>(half, 1);
  int64_t threads = blockFor(work, 128);
  std::vector<std::pair<std::string, std::string>> vars = {
      {"CONVENTION", spec.interleaved ? "interleaved" : "rotate_half"},
      {"ANGLES",
       spec.tables ? "cos/sin tables" : "base " + floatLiteral(spec.base)},
      {"ANGLE_CODE", angle},
      {"COPY", copy},
      {"OUT", str(spec.tables ? 3 : 1)},
      {"FIRST", spec.interleaved ? "2 * i" : "i"},
      {"SECOND", spec.interleaved ? "2 * i + 1" : "i + $HALF$"},
      {"THREADS", str(threads)},
      {"H", str(spec.heads)},
      {"DH", str(spec.headDim)},
      {"RD", str(spec.rotaryDim)},
      {"HALF", str(half)},
      {"BASE", floatLiteral(spec.base)}};
  // In order: the first values contain holes that later ones fill.
  std::string filled = fill(text, vars);
  Launch launch;
  launch.function =
      addKernel("rotary_" + str(spec.heads) + "x" + str(spec.headDim) +
                    (spec.interleaved ? "_interleaved" : "_half"),
                filled);
  launch.gridX = static_cast<uint32_t>(ceilDiv(work, threads));
  launch.tokensPerBlock = 1;
  launch.blockX = static_cast<uint32_t>(threads);
  return launch;
}

std::vector<Launch> CudaModule::attention(const AttentionSpec &spec) {
  const char *append = R"(
// KV-cache append of layer $LAYER$: keys and values [t, $KVH$, $DH$] at
// positions position + t of the cache [layers][k|v][$KVH$][context][$DH$]
extern "C" __global__ void __launch_bounds__($THREADS$) @NAME@(qrt_params p) {
  const float *k = (const float *)p.buffers[1];
  const float *v = (const float *)p.buffers[2];
  const int kvh = blockIdx.x, t = blockIdx.y;
  const long long context = p.context;
  float *kc = (float *)p.kv_cache + ((long long)$LAYER$ * 2 * $KVH$ + kvh) * context * $DH$;
  float *vc = kc + (long long)$KVH$ * context * $DH$;
  const long long at = ((long long)*(const int *)p.position_address + t) * $DH$;
  const long long from = ((long long)t * $KVH$ + kvh) * $DH$;
  for (int d = threadIdx.x; d < $DH$; d += $THREADS$) {
    kc[at + d] = k[from + d];
    vc[at + d] = v[from + d];
  }
}
)";
  // One block of four warps per (head, token); each warp runs an online
  // softmax over every fourth key, then the block merges the four.
  const char *attend = R"(
// attention of layer $LAYER$: $H$ heads over $KVH$ KV heads of $DH$, scale $SCALE$, $CAUSAL$
extern "C" __global__ void __launch_bounds__(128) @NAME@(qrt_params p) {
  const int h = blockIdx.x, t = blockIdx.y;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const float *q = (const float *)p.buffers[0] + ((long long)t * $H$ + h) * $DH$;
  float *out = (float *)p.buffers[3] + ((long long)t * $H$ + h) * $DH$;
  const int kvh = h / ($H$ / $KVH$);
  const long long context = p.context;
  const float *kc = (const float *)p.kv_cache + ((long long)$LAYER$ * 2 * $KVH$ + kvh) * context * $DH$;
  const float *vc = kc + (long long)$KVH$ * context * $DH$;
  const int position = *(const int *)p.position_address;
  const int keys = $KEYS$;
  float qv[$PER_LANE$], acc[$PER_LANE$];
#pragma unroll
  for (int i = 0; i < $PER_LANE$; ++i) {
    const int d = lane + 32 * i;
    qv[i] = d < $DH$ ? q[d] : 0.0f;
    acc[i] = 0.0f;
  }
  float m = QRT_NEG_INF, l = 0.0f;
  for (int j = warp; j < keys; j += 4) {
    const float *kr = kc + (long long)j * $DH$;
    const float *vr = vc + (long long)j * $DH$;
    float s = 0.0f;
#pragma unroll
    for (int i = 0; i < $PER_LANE$; ++i) {
      const int d = lane + 32 * i;
      if (d < $DH$)
        s += qv[i] * kr[d];
    }
    s = qrt_warp_sum(s) * $SCALE$;
    const float mNew = fmaxf(m, s);
    const float correction = expf(m - mNew), weight = expf(s - mNew);
    l = l * correction + weight;
#pragma unroll
    for (int i = 0; i < $PER_LANE$; ++i) {
      const int d = lane + 32 * i;
      acc[i] = acc[i] * correction + (d < $DH$ ? weight * vr[d] : 0.0f);
    }
    m = mNew;
  }
  __shared__ float wm[4], wl[4], wacc[4][$DH$];
  if (lane == 0) {
    wm[warp] = m;
    wl[warp] = l;
  }
#pragma unroll
  for (int i = 0; i < $PER_LANE$; ++i) {
    const int d = lane + 32 * i;
    if (d < $DH$)
      wacc[warp][d] = acc[i];
  }
  __syncthreads();
  float mAll = wm[0];
  for (int w = 1; w < 4; ++w)
    mAll = fmaxf(mAll, wm[w]);
  float lAll = 0.0f;
  float factor[4];
  for (int w = 0; w < 4; ++w) {
    factor[w] = wl[w] > 0.0f ? expf(wm[w] - mAll) : 0.0f;
    lAll += wl[w] * factor[w];
  }
  for (int d = threadIdx.x; d < $DH$; d += 128) {
    float o = 0.0f;
    for (int w = 0; w < 4; ++w)
      o += wacc[w][d] * factor[w];
    out[d] = o / lAll;
  }
}
)";
  int64_t threads = blockFor(spec.headDim, 128);
  std::vector<std::pair<std::string, std::string>> vars = {
      {"LAYER", str(spec.layer)},
      {"H", str(spec.heads)},
      {"KVH", str(spec.kvHeads)},
      {"DH", str(spec.headDim)},
      {"THREADS", str(threads)},
      {"SCALE", floatLiteral(spec.scale)},
      {"CAUSAL", spec.causal ? "causal" : "not causal"},
      {"KEYS", spec.causal ? "position + t + 1" : "position + p.tokens"},
      {"PER_LANE", str(ceilDiv(spec.headDim, 32))}};
  std::string shape = str(spec.heads) + "x" + str(spec.kvHeads) + "x" +
                      str(spec.headDim) + "_l" + str(spec.layer);
  Launch first;
  first.function = addKernel("kv_append_" + shape, fill(append, vars));
  first.gridX = static_cast<uint32_t>(spec.kvHeads);
  first.tokensPerBlock = 1;
  first.blockX = static_cast<uint32_t>(threads);
  Launch second;
  second.function = addKernel("attention_" + shape, fill(attend, vars));
  second.gridX = static_cast<uint32_t>(spec.heads);
  second.tokensPerBlock = 1;
  second.blockX = 128;
  return {first, second};
}

Launch CudaModule::elementwise(const std::string &stem,
                               const std::string &comment,
                               const std::string &body, int64_t dim) {
  const char *text = R"(
// $COMMENT$ over [t, $D$]
extern "C" __global__ void __launch_bounds__($THREADS$) @NAME@(qrt_params p) {
  const long long base = (long long)blockIdx.y * $D$LL;
  const float *a = (const float *)p.buffers[0] + base;
  const float *b = (const float *)p.buffers[1] + base;
  float *out = (float *)p.buffers[2] + base;
  for (long long c = (long long)blockIdx.x * $THREADS$ + threadIdx.x; c < $D$LL;
       c += (long long)gridDim.x * $THREADS$) {
    $BODY$
  }
}
)";
  int64_t threads = blockFor(dim);
  Launch launch;
  launch.function =
      addKernel(stem + "_" + str(dim), fill(text, {{"COMMENT", comment},
                                                   {"BODY", body},
                                                   {"D", str(dim)},
                                                   {"THREADS", str(threads)}}));
  launch.gridX =
      static_cast<uint32_t>(std::min<int64_t>(ceilDiv(dim, threads), 64));
  launch.tokensPerBlock = 1;
  launch.blockX = static_cast<uint32_t>(threads);
  return launch;
}

Launch CudaModule::add(int64_t dim) {
  return elementwise("add", "add: out = a + b", "out[c] = a[c] + b[c];", dim);
}

Launch CudaModule::swiglu(int64_t dim) {
  // a: gate, b: up; the CPU kernel's formula.
  return elementwise("swiglu", "swiglu: out = silu(gate) * up",
                     "const float g = a[c];\n"
                     "    out[c] = g * b[c] / (1.0f + expf(-g));",
                     dim);
}

Launch CudaModule::gather(int64_t dim, int64_t xDim) {
  const char *text = R"(
// gather: out[t, j] = x[t, indices[j]] over [t, $D$] from x [t, $K$]
extern "C" __global__ void __launch_bounds__($THREADS$) @NAME@(qrt_params p) {
  const float *__restrict__ x =
      (const float *)p.buffers[0] + (long long)blockIdx.y * $K$LL;
  const int *__restrict__ indices = (const int *)p.buffers[1];
  float *__restrict__ out =
      (float *)p.buffers[2] + (long long)blockIdx.y * $D$LL;
  for (long long c = (long long)blockIdx.x * $THREADS$ + threadIdx.x; c < $D$LL;
       c += (long long)gridDim.x * $THREADS$)
    out[c] = x[indices[c]];
}
)";
  int64_t threads = blockFor(dim);
  Launch launch;
  launch.function = addKernel(
      "gather_" + str(dim) + (xDim == dim ? "" : "_of_" + str(xDim)),
      fill(text,
           {{"D", str(dim)}, {"K", str(xDim)}, {"THREADS", str(threads)}}));
  launch.gridX =
      static_cast<uint32_t>(std::min<int64_t>(ceilDiv(dim, threads), 64));
  launch.tokensPerBlock = 1;
  launch.blockX = static_cast<uint32_t>(threads);
  return launch;
}

std::string CudaModule::source() const {
  std::ostringstream os;
  os << "// Generated by quant-opt (qllm-generate-cuda): the CUDA kernels of "
        "one plan.\n"
        "// Launch ABI: runtime/include/qrt/cuda/KernelAbi.h.\n";
  os << qrt::cuda::kKernelParamsSource << kPrelude;
  if (needsFloat4Tables) {
    os << "\n// NF4 and FP4 code values and the dynamic 8-bit map of "
          "double-quantized\n// absmax codes (qrt/core/WeightFormat.h, "
          "QuantizedWeight.h).\n";
    for (qrt::Float4Codes codes : {qrt::Float4Codes::NF4, qrt::Float4Codes::FP4}) {
      os << "__constant__ float qrt_" << qrt::float4CodesName(codes)
         << "[16] = {";
      for (int i = 0; i < 16; ++i)
        os << (i ? ", " : "")
           << floatLiteral(qrt::float4CodeValues(codes)[i]);
      os << "};\n";
    }
    os << "__constant__ float qrt_map8[256] = {";
    const float *map = qrt::dynamicMap8();
    for (int i = 0; i < 256; ++i)
      os << (i ? "," : "") << (i % 6 == 0 ? "\n    " : " ")
         << floatLiteral(map[i]);
    os << "};\n";
  }
  for (const auto &[name, text] : kernels)
    os << text;
  return os.str();
}

std::vector<std::string> CudaModule::kernelNames() const {
  std::vector<std::string> names;
  for (const auto &[name, text] : kernels)
    names.push_back(name);
  return names;
}
