//===- emulate_cuda.h - CUDA C++ compiled as host C++ -----------*- C++ -*-===//
//
// Forced into every module the CUDA emulator compiles (CudaEmulator.cpp:
// `c++ -DQRT_CUDA_EMULATION -include emulate_cuda.h`), so that generated
// CUDA C++ builds with the host compiler and runs on the emulator's
// scheduler:
//   - the CUDA keywords (__global__, __device__, __host__, __forceinline__,
//     __constant__, __launch_bounds__(...)) expand to nothing or `inline`;
//     __restrict__ is the host compiler's own;
//   - __shared__ is `static`: the emulator runs the blocks of a launch one
//     after another, so a function-static array is the block's shared
//     memory (not zeroed between blocks, as on a GPU);
//   - threadIdx, blockIdx, blockDim, gridDim read the emulator's state, set
//     before each CUDA thread (a fiber) resumes;
//   - __syncthreads, __syncwarp and the warp shuffles (__shfl_sync,
//     __shfl_up_sync, __shfl_down_sync, __shfl_xor_sync, any 4- or 8-byte
//     type, optional width) and votes (__ballot_sync, __any_sync,
//     __all_sync) suspend the fiber until every thread they name arrived,
//     as on a GPU; the emulator reports a barrier that can never complete;
//   - uint2, uint4, int2, int4, float2, float4 (with CUDA's alignment),
//     make_*, and the math host libm lacks (rsqrtf, __expf, __fdividef,
//     __frcp_rn, ...), bit casts (__int_as_float, ...), __ldg.
// Without QRT_CUDA_EMULATION only the state the emulator shares with a
// module is declared (the emulator includes this file for it).
//
//===----------------------------------------------------------------------===//

#ifndef QRT_EMULATE_CUDA_H
#define QRT_EMULATE_CUDA_H

#include <cstdint>

namespace qrt_emu {

struct Dim3 {
  unsigned x, y, z;
};

/// Warp-level operations (State::warpOp).
enum WarpOp : int {
  kWarpSync = 0,
  kShuffleIndex = 1,
  kShuffleUp = 2,
  kShuffleDown = 3,
  kShuffleXor = 4,
  kBallot = 5,
  kAny = 6,
  kAll = 7,
};

/// What a module reads and calls; the emulator owns it and binds every
/// module to it (qrt_emu_bind) before a launch.
struct State {
  Dim3 threadIdx, blockIdx, blockDim, gridDim;
  void *scheduler;
  /// __syncthreads(): returns when every thread of the block arrived.
  void (*syncthreads)(void *scheduler);
  /// A warp operation of the calling thread: returns when every lane of
  /// `mask` arrived; the result (the source lane's value for a shuffle, the
  /// vote for a ballot) in the low bytes.
  uint64_t (*warpOp)(void *scheduler, int op, unsigned mask, uint64_t value,
                     int argument, int width);
};

/// The version of State; a module refuses to bind to another.
inline constexpr int kStateVersion = 1;

} // namespace qrt_emu

#ifdef QRT_CUDA_EMULATION

#include <cmath>
#include <cstring>

static qrt_emu::State *qrt_emu_state = nullptr;

extern "C" __attribute__((visibility("default"))) int
qrt_emu_bind(qrt_emu::State *state, int version) {
  if (version != qrt_emu::kStateVersion)
    return 0;
  qrt_emu_state = state;
  return 1;
}

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __constant__
#define __shared__ static
#define __launch_bounds__(...)

#define threadIdx (qrt_emu_state->threadIdx)
#define blockIdx (qrt_emu_state->blockIdx)
#define blockDim (qrt_emu_state->blockDim)
#define gridDim (qrt_emu_state->gridDim)
static constexpr int warpSize = 32;

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x, y, z;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1)
      : x(x_), y(y_), z(z_) {}
  dim3(const qrt_emu::Dim3 &d) : x(d.x), y(d.y), z(d.z) {}
};
struct alignas(8) uint2 {
  unsigned x, y;
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
struct alignas(8) int2 {
  int x, y;
};
struct alignas(16) int4 {
  int x, y, z, w;
};
struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) {
  return {x, y, z, w};
}
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) {
  return {x, y, z, w};
}

inline void __syncthreads() {
  qrt_emu_state->syncthreads(qrt_emu_state->scheduler);
}
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  qrt_emu_state->warpOp(qrt_emu_state->scheduler, qrt_emu::kWarpSync, mask, 0,
                        0, 32);
}
inline void __threadfence() {}
inline void __threadfence_block() {}

template <class T>
inline T qrt_emu_warp(int op, unsigned mask, T value, int argument, int width) {
  static_assert(sizeof(T) <= 8, "warp shuffles move at most 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  bits = qrt_emu_state->warpOp(qrt_emu_state->scheduler, op, mask, bits,
                               argument, width);
  T result;
  std::memcpy(&result, &bits, sizeof(T));
  return result;
}
template <class T>
inline T __shfl_sync(unsigned mask, T value, int sourceLane, int width = 32) {
  return qrt_emu_warp(qrt_emu::kShuffleIndex, mask, value, sourceLane, width);
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T value, unsigned delta,
                        int width = 32) {
  return qrt_emu_warp(qrt_emu::kShuffleUp, mask, value, int(delta), width);
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T value, unsigned delta,
                          int width = 32) {
  return qrt_emu_warp(qrt_emu::kShuffleDown, mask, value, int(delta), width);
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T value, int laneMask, int width = 32) {
  return qrt_emu_warp(qrt_emu::kShuffleXor, mask, value, laneMask, width);
}
inline unsigned __ballot_sync(unsigned mask, int predicate) {
  return static_cast<unsigned>(
      qrt_emu_warp<uint64_t>(qrt_emu::kBallot, mask, predicate != 0, 0, 32));
}
inline int __any_sync(unsigned mask, int predicate) {
  return static_cast<int>(
      qrt_emu_warp<uint64_t>(qrt_emu::kAny, mask, predicate != 0, 0, 32));
}
inline int __all_sync(unsigned mask, int predicate) {
  return static_cast<int>(
      qrt_emu_warp<uint64_t>(qrt_emu::kAll, mask, predicate != 0, 0, 32));
}

// Math: the fast intrinsics as their accurate host versions. Named through
// macros, so that a C library which declares one of them (C23 has rsqrtf)
// does not clash; <cmath> is in already.
inline float qrt_emu_rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double qrt_emu_rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float qrt_emu_expf(float x) { return std::exp(x); }
inline float qrt_emu_logf(float x) { return std::log(x); }
inline float qrt_emu_sinf(float x) { return std::sin(x); }
inline float qrt_emu_cosf(float x) { return std::cos(x); }
inline float qrt_emu_powf(float x, float y) { return std::pow(x, y); }
inline float qrt_emu_fdividef(float x, float y) { return x / y; }
inline float qrt_emu_frcp_rn(float x) { return 1.0f / x; }
inline float qrt_emu_fsqrt_rn(float x) { return std::sqrt(x); }
inline float qrt_emu_fmaf_rn(float x, float y, float z) {
  return std::fma(x, y, z);
}
inline float qrt_emu_saturatef(float x) {
  return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x);
}
#define rsqrtf qrt_emu_rsqrtf
#define rsqrt qrt_emu_rsqrt
#define __expf qrt_emu_expf
#define __logf qrt_emu_logf
#define __sinf qrt_emu_sinf
#define __cosf qrt_emu_cosf
#define __powf qrt_emu_powf
#define __fdividef qrt_emu_fdividef
#define __frcp_rn qrt_emu_frcp_rn
#define __fsqrt_rn qrt_emu_fsqrt_rn
#define __fmaf_rn qrt_emu_fmaf_rn
#define __saturatef qrt_emu_saturatef

// Bit casts.
inline float __int_as_float(int v) {
  float f;
  std::memcpy(&f, &v, 4);
  return f;
}
inline float __uint_as_float(unsigned v) {
  float f;
  std::memcpy(&f, &v, 4);
  return f;
}
inline int __float_as_int(float f) {
  int v;
  std::memcpy(&v, &f, 4);
  return v;
}
inline unsigned __float_as_uint(float f) {
  unsigned v;
  std::memcpy(&v, &f, 4);
  return v;
}

template <class T> inline T __ldg(const T *p) { return *p; }

// Atomics: the emulator runs one thread at a time, between suspension
// points, so a plain read-modify-write is atomic.
template <class T> inline T atomicAdd(T *p, T v) {
  T old = *p;
  *p = old + v;
  return old;
}
template <class T> inline T atomicMax(T *p, T v) {
  T old = *p;
  *p = old < v ? v : old;
  return old;
}
template <class T> inline T atomicMin(T *p, T v) {
  T old = *p;
  *p = v < old ? v : old;
  return old;
}

#endif // QRT_CUDA_EMULATION

#endif // QRT_EMULATE_CUDA_H
