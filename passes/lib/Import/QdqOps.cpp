//===- QdqOps.cpp - DequantizeLinear weights as quantized weights ---------===//
//
// ONNX QDQ models store a quantized MatMul weight as DequantizeLinear(codes,
// scale, zero_point) of an int8/uint8 initializer (per tensor, or per output
// column with axis = 1) or, from opset 21, an int4/uint4 initializer with
// blocks along K (axis = 0, block_size). Each such weight becomes one of our
// integer schemes, its codes kept (never dequantized to float):
//
//   ONNX [K, N] codes x, scale s, zero point z:  w[k][n] = (x - z) * s
//   ours [N, K] unsigned codes q = x + o, zero points z + o, with o = 2^(b-1)
//   for signed codes and 0 for unsigned ones; symmetric when every z + o is
//   2^(b-1) (signed codes without zero points).
//
// The node's value is then transpose(dequantize(q)) ([K, N] again), which
// qllm-fuse-dequant-matmul folds into the MatMul. Layouts that have no
// scheme (scales along K per row, activations quantized by QDQ pairs) are
// refused with a message naming them.
//
//===----------------------------------------------------------------------===//

#include "ImportContext.h"

#include "qllm/IR/QLLMAttrs.h"
#include "qllm/IR/QLLMTypes.h"
#include "qllm/IR/Weightless.h"

#include "mlir/IR/DialectResourceBlobManager.h"

#include <algorithm>
#include <cstring>

using namespace mlir;
using namespace mlir::qllm;
using namespace mlir::qllm::onnx_import;

namespace {

/// The raw bytes of an initializer (a weight op, or an inline constant),
/// or nullopt (weightless weights: empty, with `weightless` set).
std::optional<std::vector<char>> rawBytes(Value value, bool &weightless) {
  weightless = false;
  if (auto weight = value.getDefiningOp<WeightOp>()) {
    if (isWeightless(weight)) {
      weightless = true;
      return std::vector<char>();
    }
    auto resource = dyn_cast<DenseResourceElementsAttr>(weight.getValue());
    AsmResourceBlob *blob = resource ? resource.getRawHandle().getBlob() : nullptr;
    if (!blob)
      return std::nullopt;
    return std::vector<char>(blob->getData().begin(), blob->getData().end());
  }
  if (auto constant = value.getDefiningOp<ConstantOp>()) {
    auto dense = dyn_cast<DenseElementsAttr>(constant.getValue());
    if (!dense)
      return std::nullopt;
    std::vector<char> out;
    Type element = dense.getElementType();
    for (int64_t i = 0; i < dense.getNumElements(); ++i) {
      if (auto f = dyn_cast<FloatType>(element)) {
        APFloat v = dense.getValues<APFloat>()[i];
        if (f.isF32()) {
          float x = v.convertToFloat();
          const char *p = reinterpret_cast<const char *>(&x);
          out.insert(out.end(), p, p + 4);
        } else {
          uint16_t h = static_cast<uint16_t>(v.bitcastToAPInt().getZExtValue());
          const char *p = reinterpret_cast<const char *>(&h);
          out.insert(out.end(), p, p + 2);
        }
      } else {
        APInt v = dense.getValues<APInt>()[i];
        int64_t bytes = std::max<int64_t>(1, element.getIntOrFloatBitWidth() / 8);
        uint64_t raw = v.getZExtValue();
        const char *p = reinterpret_cast<const char *>(&raw);
        out.insert(out.end(), p, p + bytes);
      }
    }
    return out;
  }
  return std::nullopt;
}

/// Element `i` of an integer tensor's raw bytes (4-bit packed low nibble
/// first), sign-extended for signed types.
int64_t intAt(const std::vector<char> &bytes, Type element, int64_t i) {
  unsigned bits = element.getIntOrFloatBitWidth();
  bool isUnsigned = element.isUnsignedInteger();
  int64_t raw;
  if (bits == 4) {
    uint8_t byte = static_cast<uint8_t>(bytes[i / 2]);
    raw = (i % 2) ? byte >> 4 : byte & 0xF;
    if (!isUnsigned && raw >= 8)
      raw -= 16;
  } else {
    uint8_t byte = static_cast<uint8_t>(bytes[i]);
    raw = isUnsigned ? byte : static_cast<int8_t>(byte);
  }
  return raw;
}

/// Packs `codes` (one row of unsigned values) at `bits` bits per value.
void packRow(ArrayRef<int64_t> codes, unsigned bits, char *out) {
  if (bits == 8) {
    for (size_t i = 0; i < codes.size(); ++i)
      out[i] = static_cast<char>(codes[i]);
    return;
  }
  size_t bytes = (codes.size() + 1) / 2;
  std::memset(out, 0, bytes);
  for (size_t i = 0; i < codes.size(); ++i)
    out[i / 2] = static_cast<char>(static_cast<uint8_t>(out[i / 2]) |
                                   (codes[i] << (4 * (i % 2))));
}

/// Our codes [N, K] (rows of `rowBytes`, 4 bits low nibble first) from
/// ONNX's [K, N] (4 bits: packed in row-major order, low nibble first):
/// q = x + offset, which for codes of `bits` bits is x's bit pattern with
/// its top bit flipped when offset is 2^(bits-1) (signed x), x itself when
/// 0. In tiles, so that both sides are read and written in cache lines.
void transposeCodes(const uint8_t *in, int64_t k, int64_t n, unsigned bits,
                    uint8_t offset, uint8_t *out, int64_t rowBytes) {
  constexpr int64_t kTile = 64;
  const uint8_t flip = offset ? static_cast<uint8_t>(offset) : 0;
  std::memset(out, 0, static_cast<size_t>(n * rowBytes));
  for (int64_t i0 = 0; i0 < k; i0 += kTile) {
    int64_t i1 = std::min(k, i0 + kTile);
    for (int64_t c0 = 0; c0 < n; c0 += kTile) {
      int64_t c1 = std::min(n, c0 + kTile);
      for (int64_t i = i0; i < i1; ++i) {
        for (int64_t c = c0; c < c1; ++c) {
          if (bits == 8) {
            out[c * rowBytes + i] = in[i * n + c] ^ flip;
          } else {
            int64_t index = i * n + c;
            uint8_t code = static_cast<uint8_t>(
                ((in[index / 2] >> (4 * (index % 2))) & 0xF) ^ flip);
            out[c * rowBytes + i / 2] |= static_cast<uint8_t>(code << (4 * (i % 2)));
          }
        }
      }
    }
  }
}

Value newComponent(ImportContext &ctx, StringRef name, RankedTensorType type,
                   std::vector<char> bytes, bool weightless) {
  size_t alignment =
      std::max<size_t>(1, type.getElementType().getIntOrFloatBitWidth() / 8);
  AsmResourceBlob blob =
      weightless ? zeroBlob(bytes.size(), alignment)
                 : HeapAsmResourceBlob::allocateAndCopyWithAlign(
                       ArrayRef<char>(bytes.data(), bytes.size()), alignment);
  auto attr = DenseResourceElementsAttr::get(type, name, std::move(blob));
  return WeightOp::create(ctx.b, ctx.loc, name, attr);
}

LogicalResult convertDequantizeLinear(ImportContext &ctx) {
  FailureOr<Value> x = ctx.requiredInput(0), scale = ctx.requiredInput(1);
  if (failed(x) || failed(scale))
    return failure();
  Value zeroPoint = ctx.input(2);
  auto xt = rankedType(*x), st = rankedType(*scale);
  Type element = xt.getElementType();
  unsigned bits = element.isInteger(8) ? 8 : element.isInteger(4) ? 4 : 0;
  if (!bits)
    return ctx.error() << "has codes of type " << element
                       << "; weights of int8, uint8, int4 or uint4 are "
                          "supported";
  if (!x->getDefiningOp<WeightOp>())
    return ctx.error() << "dequantizes a value that is not an initializer "
                          "(QDQ activations have no scheme; quantized "
                          "weights are imported)";
  if (xt.getRank() != 2 || !xt.hasStaticShape())
    return ctx.error() << "dequantizes a " << xt.getRank()
                       << "-D tensor; only 2-D [K, N] MatMul weights are "
                          "supported";
  auto scaleType = dyn_cast<FloatType>(st.getElementType());
  if (!scaleType || !(scaleType.isF32() || scaleType.isF16()))
    return ctx.error() << "needs f32 or f16 scales";
  if (zeroPoint && rankedType(zeroPoint).getElementType() != element)
    return ctx.error() << "needs a zero point of the codes' type";
  int64_t k = xt.getDimSize(0), n = xt.getDimSize(1);
  int64_t axis = ctx.intAttr("axis", 1);
  if (axis < 0)
    axis += 2;
  int64_t blockSize = ctx.intAttr("block_size", 0);

  // Which scale entry each (k, n) reads: per tensor, per column n (axis 1),
  // or per block of K in column n (axis 0 with block_size).
  int64_t group = ::qrt::kPerChannel;
  std::function<int64_t(int64_t, int64_t)> scaleIndex; // (n, g) -> index
  if (st.getNumElements() == 1 && blockSize == 0) {
    scaleIndex = [](int64_t, int64_t) { return int64_t(0); };
  } else if (blockSize == 0 && axis == 1 && st.getRank() == 1 &&
             st.getDimSize(0) == n) {
    scaleIndex = [](int64_t col, int64_t) { return col; };
  } else if (blockSize > 0 && axis == 0 && st.getRank() == 2 &&
             st.getDimSize(0) == (k + blockSize - 1) / blockSize &&
             st.getDimSize(1) == n) {
    group = blockSize;
    scaleIndex = [n](int64_t col, int64_t g) { return g * n + col; };
  } else {
    return ctx.error()
           << "has scales " << st << " for codes " << xt << " (axis " << axis
           << ", block_size " << blockSize
           << "): no scheme stores them; supported are one scale, one per "
              "output column (axis 1) and blocks along K (axis 0 with "
              "block_size), which group each output column's weights";
  }
  if (zeroPoint && rankedType(zeroPoint).getShape() != st.getShape())
    return ctx.error() << "needs a zero point shaped like the scale";
  int64_t groups = group == ::qrt::kPerChannel ? 1 : (k + group - 1) / group;

  bool weightless = false, scaleWeightless = false, zpWeightless = false;
  std::optional<std::vector<char>> codes = rawBytes(*x, weightless);
  std::optional<std::vector<char>> scales = rawBytes(*scale, scaleWeightless);
  std::optional<std::vector<char>> zps;
  if (zeroPoint)
    zps = rawBytes(zeroPoint, zpWeightless);
  if (!codes || !scales || (zeroPoint && !zps))
    return ctx.error() << "needs its codes, scale and zero point as "
                          "initializers";
  weightless |= scaleWeightless || zpWeightless;

  int64_t offset = element.isUnsignedInteger() ? 0 : (int64_t(1) << (bits - 1));
  int64_t half = int64_t(1) << (bits - 1);
  auto zpAt = [&](int64_t index) -> int64_t {
    return (zps && !weightless ? intAt(*zps, element, index) : 0) + offset;
  };
  // Symmetric: every zero point is 2^(b-1) in our codes (signed codes
  // without zero points, or with zeros).
  bool symmetric;
  if (!zeroPoint)
    symmetric = offset == half;
  else if (weightless)
    symmetric = false;
  else {
    symmetric = true;
    for (int64_t i = 0; i < st.getNumElements(); ++i)
      symmetric &= zpAt(i) == half;
  }

  // Components in our [N, K] layout.
  int64_t rowBytes = (k * bits + 7) / 8;
  std::vector<char> data(static_cast<size_t>(n * rowBytes));
  size_t scaleBytes = scaleType.isF32() ? 4 : 2;
  std::vector<char> scaleData(static_cast<size_t>(n * groups) * scaleBytes);
  int64_t zpRowBytes = (groups * bits + 7) / 8;
  std::vector<char> zpData(symmetric ? 0 : static_cast<size_t>(n * zpRowBytes));
  if (!weightless) {
    transposeCodes(reinterpret_cast<const uint8_t *>(codes->data()), k, n, bits,
                   static_cast<uint8_t>(offset),
                   reinterpret_cast<uint8_t *>(data.data()), rowBytes);
    std::vector<int64_t> zrow(groups);
    for (int64_t col = 0; col < n; ++col) {
      for (int64_t g = 0; g < groups; ++g) {
        int64_t index = scaleIndex(col, g);
        std::memcpy(scaleData.data() + (col * groups + g) * scaleBytes,
                    scales->data() + index * scaleBytes, scaleBytes);
        zrow[g] = zpAt(index);
      }
      if (!symmetric)
        packRow(zrow, bits, zpData.data() + col * zpRowBytes);
    }
  }

  std::string name = ctx.node->input(0);
  MLIRContext *mctx = ctx.getContext();
  Type u8 = IntegerType::get(mctx, 8, IntegerType::Unsigned);
  Value dataWeight = newComponent(ctx, name + ".data",
                                  ctx.tensorType({n, rowBytes}, u8),
                                  std::move(data), weightless);
  Value scaleWeight = newComponent(ctx, name + ".scales",
                                   ctx.tensorType({n, groups}, scaleType),
                                   std::move(scaleData), weightless);
  Value zpWeight;
  if (!symmetric)
    zpWeight = newComponent(ctx, name + ".zero_points",
                            ctx.tensorType({n, zpRowBytes}, u8),
                            std::move(zpData), weightless);
  auto scheme = IntQuantAttr::get(mctx, bits, group, symmetric,
                                  /*act_order=*/false, scaleType);
  auto qtype = QTensorType::get(mctx, {n, k}, scheme);
  Value q = QuantizedWeightOp::create(ctx.b, ctx.loc, qtype, name, dataWeight,
                                      scaleWeight, zpWeight, Value(), Value(),
                                      Value());
  Value dequantized = DequantizeOp::create(
      ctx.b, ctx.loc, ctx.tensorType({n, k}, scaleType), q);
  ctx.setOutput(0, TransposeOp::create(ctx.b, ctx.loc,
                                       ctx.tensorType({k, n}, scaleType),
                                       dequantized,
                                       ctx.b.getDenseI64ArrayAttr({1, 0})));
  return success();
}

} // namespace

void mlir::qllm::onnx_import::registerQdqConverters(
    llvm::StringMap<Converter> &table) {
  table[":DequantizeLinear"] = convertDequantizeLinear;
}
