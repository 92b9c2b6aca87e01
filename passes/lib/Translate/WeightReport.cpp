//===- WeightReport.cpp - per-weight storage report -----------------------===//

#include "quant/Translate/Translations.h"

#include "qllm/IR/QLLMOps.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::qllm;

namespace {

struct Row {
  std::string name;
  std::string shape;
  std::string format;
  uint64_t elements = 0;
  uint64_t bytes = 0;
};

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s;
  llvm::raw_string_ostream os(s);
  llvm::interleave(shape, os, "x");
  return s.empty() ? "scalar" : s;
}

/// The printed form of an attribute or type.
template <typename T>
std::string printed(T value) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << value;
  return s;
}

/// Name of the qllm.weight defining `value`, if any.
StringRef weightName(Value value) {
  if (!value)
    return {};
  if (auto weight = value.getDefiningOp<WeightOp>())
    return weight.getName();
  return {};
}

} // namespace

LogicalResult mlir::qllm::writeWeightReport(Operation *root,
                                            llvm::raw_ostream &os) {
  // Weights that are components of a quantized weight are reported as part
  // of it, not on their own.
  llvm::StringSet<> components;
  root->walk([&](QuantizedWeightOp op) {
    for (Value operand : op->getOperands())
      if (StringRef name = weightName(operand); !name.empty())
        components.insert(name);
  });

  std::vector<Row> rows;
  llvm::StringSet<> seen;
  root->walk([&](Operation *op) {
    if (auto weight = dyn_cast<WeightOp>(op)) {
      if (components.contains(weight.getName()) ||
          !seen.insert(weight.getName()).second)
        return;
      auto type = cast<RankedTensorType>(weight.getType());
      Row row;
      row.name = weight.getName().str();
      row.shape = shapeString(type.getShape());
      row.format = printed(type.getElementType());
      row.elements = static_cast<uint64_t>(type.getNumElements());
      row.bytes = row.elements *
                  ((static_cast<uint64_t>(type.getElementTypeBitWidth()) + 7) / 8);
      rows.push_back(std::move(row));
    } else if (auto quantized = dyn_cast<QuantizedWeightOp>(op)) {
      if (!seen.insert(quantized.getName()).second)
        return;
      QTensorType type = quantized.getType();
      Row row;
      row.name = quantized.getName().str();
      row.shape = shapeString(type.getShape());
      row.format = printed(type.getScheme());
      row.elements = static_cast<uint64_t>(type.getRows()) *
                     static_cast<uint64_t>(type.getCols());
      row.bytes = type.getLayout().totalBytes();
      rows.push_back(std::move(row));
    }
  });

  size_t nameWidth = 6, shapeWidth = 5, formatWidth = 6;
  for (const Row &row : rows) {
    nameWidth = std::max(nameWidth, row.name.size());
    shapeWidth = std::max(shapeWidth, row.shape.size());
    formatWidth = std::max(formatWidth, row.format.size());
  }
  auto bitsPerWeight = [](uint64_t bytes, uint64_t elements) {
    return elements ? 8.0 * static_cast<double>(bytes) /
                          static_cast<double>(elements)
                    : 0.0;
  };
  os << llvm::left_justify("weight", nameWidth) << "  "
     << llvm::left_justify("shape", shapeWidth) << "  "
     << llvm::left_justify("format", formatWidth) << "  "
     << llvm::right_justify("bytes", 12) << "  bits/weight\n";
  uint64_t totalBytes = 0, totalElements = 0;
  for (const Row &row : rows) {
    os << llvm::left_justify(row.name, nameWidth) << "  "
       << llvm::left_justify(row.shape, shapeWidth) << "  "
       << llvm::left_justify(row.format, formatWidth) << "  "
       << llvm::format_decimal(row.bytes, 12) << "  "
       << llvm::format("%.3f", bitsPerWeight(row.bytes, row.elements)) << "\n";
    totalBytes += row.bytes;
    totalElements += row.elements;
  }
  os << "total: " << rows.size() << " weights, " << totalElements
     << " elements, " << totalBytes << " bytes, "
     << llvm::format("%.3f", bitsPerWeight(totalBytes, totalElements))
     << " bits/weight\n";
  return success();
}
