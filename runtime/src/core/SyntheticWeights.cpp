//===- SyntheticWeights.cpp - weights of weightless plans -----------------===//
//
// Each weight is split into chunks of a fixed number of elements; chunk j of
// weight i draws from its own splitmix64 stream, seeded from (seed, i, j), so
// the threads can fill the chunks in any order and the bytes stay the same.
//
//===----------------------------------------------------------------------===//

#include "qrt/core/SyntheticWeights.h"

#include "qrt/core/Half.h"
#include "qrt/core/Plan.h"
#include "qrt/core/QuantizedWeight.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>

namespace qrt {

namespace {

/// Elements per chunk (one stream each).
constexpr uint64_t kChunkElements = uint64_t(1) << 18;

inline uint64_t splitmix64(uint64_t &state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// A uniform float in [0, 1) from the high 24 bits of `bits`.
inline float unit(uint64_t bits) {
  return static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);
}

enum class FillKind : uint8_t {
  Zero,       ///< all bytes 0
  Uniform,    ///< floats uniform in [lo, hi)
  Constant,   ///< floats equal to lo
  Cos,        ///< rotary table: cos(p * base^(-2j / rotaryDim))
  Sin,        ///< rotary table: sin(...)
  Codes,      ///< random bytes; each row's last byte masked with lastMask
  ZeroPoints, ///< per row, `groups` codes in [codeLo, codeHi], packed
  GroupIndex, ///< int32 c / groupSize
};

/// How one weight is filled.
struct Fill {
  FillKind kind = FillKind::Zero;
  bool assigned = false;
  float lo = 0, hi = 0;
  // Codes and ZeroPoints: bytes of one row; Codes: mask of its last byte.
  int64_t rowBytes = 1;
  uint8_t lastMask = 0xff;
  // ZeroPoints.
  int bits = 8;
  int64_t groups = 0;
  int codeLo = 0, codeHi = 0;
  // Cos, Sin: columns of the table (rotary_dim / 2), rotary_dim and base.
  int64_t half = 1;
  int32_t rotaryDim = 2;
  double base = 10000.0;
  // GroupIndex.
  int64_t groupSize = 1;
};

Fill uniform(float bound) {
  Fill f;
  f.kind = FillKind::Uniform;
  f.lo = -bound;
  f.hi = bound;
  return f;
}

Fill uniformIn(float lo, float hi) {
  Fill f;
  f.kind = FillKind::Uniform;
  f.lo = lo;
  f.hi = hi;
  return f;
}

Fill constant(float value) {
  Fill f;
  f.kind = FillKind::Constant;
  f.lo = value;
  return f;
}

/// Random packed codes: rows of `rowBytes` bytes holding `count` codes of
/// `bits` bits.
Fill codes(int64_t count, int bits) {
  Fill f;
  f.kind = FillKind::Codes;
  f.rowBytes = std::max<int64_t>(1, packedBytes(count, bits));
  int used = static_cast<int>((count * bits) % 8);
  f.lastMask = used ? static_cast<uint8_t>((1u << used) - 1u) : 0xff;
  return f;
}

bool isFloat(fb::DType type) {
  return type == fb::DType::F32 || type == fb::DType::F16 ||
         type == fb::DType::BF16;
}

/// The fill of component `component` of the quantized weight `view`.
Fill componentFill(const Component &component, const QuantizedView &view) {
  float a = 1.0f / std::sqrt(static_cast<float>(view.cols));
  bool nf4 = view.kind == QuantizedView::Kind::Float4;
  switch (component.role) {
  case ComponentRole::Data:
    return codes(view.cols, view.bits());
  case ComponentRole::Scales: {
    if (nf4 && view.float4.doubleQuant)
      return codes(view.groups(), 8); // 8-bit absmax codes, any value
    if (nf4)
      return uniformIn(a, 2.0f * a);
    float step = 2.0f * a / static_cast<float>((1 << view.intN.bits) - 1);
    return uniformIn(0.5f * step, step);
  }
  case ComponentRole::ZeroPoints: {
    Fill f;
    f.kind = FillKind::ZeroPoints;
    f.bits = view.intN.bits;
    f.groups = view.groups();
    f.rowBytes = packedBytes(f.groups, f.bits);
    int quarter = 1 << (f.bits - 2);
    f.codeLo = quarter;
    f.codeHi = 3 * quarter;
    return f;
  }
  case ComponentRole::GroupIndex: {
    Fill f;
    f.kind = FillKind::GroupIndex;
    f.groupSize = std::max<int64_t>(1, view.groupSize());
    return f;
  }
  case ComponentRole::DoubleQuantScales:
    return uniformIn(0.25f * a, 0.5f * a);
  case ComponentRole::DoubleQuantOffset:
    return constant(1.5f * a);
  }
  return Fill();
}

/// The fill of every weight, from the first step that reads it.
std::vector<Fill> planFills(const fb::Plan &plan) {
  size_t count = plan.weights() ? plan.weights()->size() : 0;
  std::vector<Fill> fills(count);
  auto assign = [&](const fb::Step &step, size_t input, Fill fill) {
    if (!step.inputs() || input >= step.inputs()->size())
      return;
    const fb::Buffer *b = step.inputs()->Get(input);
    if (b->kind() != fb::BufferKind::Weight || b->offset() >= count ||
        fills[b->offset()].assigned)
      return;
    fill.assigned = true;
    fills[b->offset()] = fill;
  };
  auto dim = [](const fb::Step &step, size_t input, size_t d) -> int64_t {
    const fb::TensorInfo *t = step.inputs()->Get(input)->tensor();
    return t && t->dims() && d < t->dims()->size() ? t->dims()->Get(d) : 1;
  };
  if (plan.entries())
    for (const fb::Entry *entry : *plan.entries()) {
      if (!entry->steps())
        continue;
      for (const fb::Step *step : *entry->steps()) {
        size_t inputs = step->inputs() ? step->inputs()->size() : 0;
        switch (step->kernel()) {
        case fb::Kernel::Embedding:
          assign(*step, 0, uniform(1.0f));
          break;
        case fb::Kernel::RmsNorm:
          assign(*step, 1, constant(1.0f));
          break;
        case fb::Kernel::MatMul:
          if (inputs == 2)
            assign(
                *step, 1,
                uniform(1.0f / std::sqrt(static_cast<float>(
                                   std::max<int64_t>(1, dim(*step, 1, 1))))));
          break;
        case fb::Kernel::Rotary:
          if (inputs == 3) {
            Fill f;
            f.half = std::max<int64_t>(1, dim(*step, 1, 1));
            f.rotaryDim = step->rotary_dim() > 0
                              ? step->rotary_dim()
                              : static_cast<int32_t>(2 * f.half);
            f.base = step->rotary_base() > 0 ? step->rotary_base() : 10000.0;
            f.kind = FillKind::Cos;
            assign(*step, 1, f);
            f.kind = FillKind::Sin;
            assign(*step, 2, f);
          }
          break;
        case fb::Kernel::DequantMatMul:
        case fb::Kernel::Int8MatMul: {
          QuantizedView view;
          std::string error;
          if (!quantizedViewOf(step->quant(), view, error))
            break;
          WeightLayout layout = view.layout();
          for (size_t c = 0; c < layout.components.size(); ++c)
            assign(*step, c + 1, componentFill(layout.components[c], view));
          break;
        }
        default:
          break;
        }
      }
    }
  // Weights no step reads: small floats, zero integers.
  for (size_t i = 0; i < count; ++i) {
    if (fills[i].assigned)
      continue;
    const fb::TensorInfo *t = plan.weights()->Get(i)->tensor();
    if (t && isFloat(t->dtype())) {
      int64_t last = t->dims() && t->dims()->size()
                         ? t->dims()->Get(t->dims()->size() - 1)
                         : 1;
      fills[i] = uniform(
          1.0f / std::sqrt(static_cast<float>(std::max<int64_t>(1, last))));
    }
  }
  return fills;
}

void storeFloat(uint8_t *out, fb::DType type, uint64_t index, float value) {
  switch (type) {
  case fb::DType::F16: {
    uint16_t h = floatToHalf(value);
    std::memcpy(out + 2 * index, &h, 2);
    return;
  }
  case fb::DType::BF16: {
    uint16_t b = floatToBfloat16(value);
    std::memcpy(out + 2 * index, &b, 2);
    return;
  }
  default:
    std::memcpy(out + 4 * index, &value, 4);
    return;
  }
}

/// Fills elements [begin, end) of a weight of `type` at `out`.
void fillChunk(const Fill &f, fb::DType type, uint8_t *out, uint64_t begin,
               uint64_t end, uint64_t state) {
  switch (f.kind) {
  case FillKind::Zero:
    std::memset(out + begin * dtypeBytes(type), 0,
                (end - begin) * dtypeBytes(type));
    return;
  case FillKind::Uniform: {
    float scale = f.hi - f.lo;
    for (uint64_t i = begin; i < end; ++i)
      storeFloat(out, type, i, f.lo + scale * unit(splitmix64(state)));
    return;
  }
  case FillKind::Constant:
    for (uint64_t i = begin; i < end; ++i)
      storeFloat(out, type, i, f.lo);
    return;
  case FillKind::Cos:
  case FillKind::Sin:
    for (uint64_t i = begin; i < end; ++i) {
      uint64_t position = i / static_cast<uint64_t>(f.half);
      uint64_t j = i % static_cast<uint64_t>(f.half);
      double angle = static_cast<double>(position) *
                     std::pow(f.base, -2.0 * static_cast<double>(j) /
                                          static_cast<double>(f.rotaryDim));
      storeFloat(out, type, i,
                 static_cast<float>(f.kind == FillKind::Cos ? std::cos(angle)
                                                            : std::sin(angle)));
    }
    return;
  case FillKind::Codes: {
    uint64_t i = begin;
    for (; i + 8 <= end; i += 8) {
      uint64_t bits = splitmix64(state);
      std::memcpy(out + i, &bits, 8);
    }
    if (i < end) {
      uint64_t bits = splitmix64(state);
      std::memcpy(out + i, &bits, end - i);
    }
    if (f.lastMask != 0xff) {
      uint64_t row = static_cast<uint64_t>(f.rowBytes);
      uint64_t last = begin / row * row + row - 1;
      for (; last < end; last += row)
        out[last] &= f.lastMask;
    }
    return;
  }
  case FillKind::ZeroPoints: {
    // One chunk holds whole rows (see chunkElements).
    std::vector<uint8_t> row(static_cast<size_t>(f.groups));
    uint64_t span = static_cast<uint64_t>(f.codeHi - f.codeLo + 1);
    for (uint64_t r = begin / f.rowBytes; r < end / f.rowBytes; ++r) {
      for (uint8_t &code : row)
        code = static_cast<uint8_t>(f.codeLo + splitmix64(state) % span);
      packCodes(row.data(), f.groups, f.bits, out + r * f.rowBytes);
    }
    return;
  }
  case FillKind::GroupIndex:
    for (uint64_t i = begin; i < end; ++i) {
      int32_t g = static_cast<int32_t>(i / static_cast<uint64_t>(f.groupSize));
      std::memcpy(out + 4 * i, &g, 4);
    }
    return;
  }
}

/// Elements per chunk of a weight: whole rows for packed zero points.
uint64_t chunkElements(const Fill &f) {
  if (f.kind != FillKind::ZeroPoints)
    return kChunkElements;
  uint64_t row = static_cast<uint64_t>(f.rowBytes);
  return std::max<uint64_t>(1, kChunkElements / row) * row;
}

} // namespace

SyntheticLayout syntheticLayout(const fb::Plan &plan) {
  SyntheticLayout layout;
  uint64_t offset = 0;
  if (plan.weights())
    for (const fb::WeightInfo *w : *plan.weights()) {
      layout.offsets.push_back(offset);
      offset = (offset + w->size() + kWeightAlignment - 1) / kWeightAlignment *
               kWeightAlignment;
    }
  layout.bytes = offset;
  return layout;
}

void synthesizeWeights(const fb::Plan &plan, uint64_t seed,
                       const SyntheticLayout &layout, uint8_t *base,
                       unsigned threads) {
  std::vector<Fill> fills = planFills(plan);
  const bool sharded = plan.sharding() && plan.sharding()->world_size() > 1;
  std::vector<bool> read(fills.size());
  if (sharded)
    for (uint32_t w : weightsRead(plan))
      read[w] = true;
  struct Chunk {
    uint32_t weight;
    uint64_t index, begin, end;
  };
  std::vector<Chunk> chunks;
  for (uint32_t i = 0; i < fills.size(); ++i) {
    const fb::WeightInfo *w = plan.weights()->Get(i);
    size_t bytes = w->tensor() ? dtypeBytes(w->tensor()->dtype()) : 0;
    // A tensor-parallel plan's other ranks' slices, which no step names
    // (every rank runs on the synthesized rank-0 ones), stay untouched
    // zero pages.
    if (!bytes || (sharded && !read[i]))
      continue;
    uint64_t elements = w->size() / bytes, step = chunkElements(fills[i]);
    for (uint64_t begin = 0, j = 0; begin < elements; begin += step, ++j)
      chunks.push_back({i, j, begin, std::min(elements, begin + step)});
  }
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t c; (c = next.fetch_add(1)) < chunks.size();) {
      const Chunk &chunk = chunks[c];
      uint64_t state = seed * 0xD1B54A32D192ED03ull ^
                       (uint64_t(chunk.weight) + 1) * 0x9E3779B97F4A7C15ull ^
                       (chunk.index + 1) * 0xC2B2AE3D27D4EB4Full;
      splitmix64(state);
      fillChunk(fills[chunk.weight],
                plan.weights()->Get(chunk.weight)->tensor()->dtype(),
                base + layout.offsets[chunk.weight], chunk.begin, chunk.end,
                state);
    }
  };
  if (threads == 0)
    threads = std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(
      std::min<size_t>(threads, std::max<size_t>(1, chunks.size())));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t)
    pool.emplace_back(work);
  work();
  for (std::thread &t : pool)
    t.join();
}

} // namespace qrt
