//===- ReferenceRun.cpp - run a model function on .npy inputs -------------===//
//
// quant-translate --reference-run: binds each argument of the model function
// (by its qllm.name) to a NumPy .npy file, evaluates every result with the
// reference evaluator and writes each as <dir>/<qllm.name>.npy. Tests use it
// to compare imported graphs with ONNX Runtime op by op.
//
//===----------------------------------------------------------------------===//

#include "quant/Translate/Translations.h"

#include "qllm/Analysis/ReferenceEvaluator.h"
#include "qllm/IR/QLLMOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace mlir;
using namespace mlir::qllm;

namespace {

/// NumPy's dtype string for an element type.
std::optional<std::string> npyDescr(Type element) {
  if (element.isF32())
    return std::string("<f4");
  if (element.isF16())
    return std::string("<f2");
  if (element.isF64())
    return std::string("<f8");
  if (element.isInteger(1))
    return std::string("|b1");
  if (auto i = dyn_cast<IntegerType>(element)) {
    char kind = i.isUnsigned() ? 'u' : 'i';
    unsigned bytes = i.getWidth() / 8;
    return std::string(bytes == 1 ? "|" : "<") + kind + std::to_string(bytes);
  }
  return std::nullopt;
}

/// Reads a version 1-3 .npy file of a little-endian, C-ordered array.
FailureOr<RefTensor> readNpy(StringRef path, std::string &descr,
                             std::string &error) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer) {
    error = "cannot read '" + path.str() + "'";
    return failure();
  }
  StringRef data = (*buffer)->getBuffer();
  if (data.size() < 10 || !data.starts_with("\x93NUMPY")) {
    error = "'" + path.str() + "' is not a .npy file";
    return failure();
  }
  unsigned major = static_cast<unsigned char>(data[6]);
  size_t headerLength, offset;
  if (major == 1) {
    headerLength = static_cast<unsigned char>(data[8]) |
                   (static_cast<unsigned char>(data[9]) << 8);
    offset = 10;
  } else {
    if (data.size() < 12) {
      error = "truncated .npy header";
      return failure();
    }
    uint32_t len;
    std::memcpy(&len, data.data() + 8, 4);
    headerLength = len;
    offset = 12;
  }
  if (offset + headerLength > data.size()) {
    error = "truncated .npy header";
    return failure();
  }
  StringRef header = data.substr(offset, headerLength);
  auto field = [&](StringRef key) -> StringRef {
    size_t at = header.find(("'" + key + "'").str());
    if (at == StringRef::npos)
      return {};
    StringRef rest = header.drop_front(at + key.size() + 2).ltrim(" :");
    return rest;
  };
  StringRef d = field("descr");
  if (d.empty() || d.front() != '\'') {
    error = "no descr in the .npy header";
    return failure();
  }
  descr = d.drop_front().take_until([](char c) { return c == '\''; }).str();
  if (field("fortran_order").starts_with("True")) {
    error = "Fortran-ordered arrays are not supported";
    return failure();
  }
  StringRef shapeText = field("shape");
  if (shapeText.empty() || shapeText.front() != '(') {
    error = "no shape in the .npy header";
    return failure();
  }
  shapeText = shapeText.drop_front().take_until([](char c) { return c == ')'; });
  RefTensor tensor;
  SmallVector<StringRef> dims;
  shapeText.split(dims, ',', -1, /*KeepEmpty=*/false);
  for (StringRef dim : dims) {
    dim = dim.trim();
    if (dim.empty())
      continue;
    int64_t size;
    if (dim.getAsInteger(10, size)) {
      error = "bad shape in the .npy header";
      return failure();
    }
    tensor.shape.push_back(size);
  }
  StringRef payload = data.drop_front(offset + headerLength);
  int64_t count = tensor.numElements();
  auto need = [&](size_t bytes) {
    if (payload.size() < static_cast<size_t>(count) * bytes) {
      error = "'" + path.str() + "' holds fewer values than its shape";
      return false;
    }
    return true;
  };
  const char *p = payload.data();
  auto load = [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < count; ++i) {
      T v;
      std::memcpy(&v, p + i * sizeof(T), sizeof(T));
      tensor.data.push_back(static_cast<double>(v));
    }
  };
  if (descr == "<f4" && need(4))
    load(float());
  else if (descr == "<f8" && need(8))
    load(double());
  else if (descr == "<i8" && need(8))
    load(int64_t());
  else if (descr == "<i4" && need(4))
    load(int32_t());
  else if ((descr == "|u1" || descr == "|b1") && need(1))
    load(uint8_t());
  else if (descr == "|i1" && need(1))
    load(int8_t());
  else if (descr == "<f2" && need(2)) {
    for (int64_t i = 0; i < count; ++i) {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      tensor.data.push_back(
          APFloat(APFloat::IEEEhalf(), APInt(16, h)).convertToDouble());
    }
  } else {
    if (error.empty())
      error = "unsupported .npy dtype '" + descr + "'";
    return failure();
  }
  return tensor;
}

LogicalResult writeNpy(StringRef path, const RefTensor &tensor, Type element,
                       std::string &error) {
  std::optional<std::string> descr = npyDescr(element);
  if (!descr) {
    error = "no .npy dtype for this element type";
    return failure();
  }
  std::string shape = "(";
  for (int64_t d : tensor.shape)
    shape += std::to_string(d) + ",";
  if (tensor.shape.size() > 1)
    shape.pop_back();
  shape += ")";
  std::string header = "{'descr': '" + *descr +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0)
    header += ' ';
  header += '\n';
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec) {
    error = "cannot write '" + path.str() + "'";
    return failure();
  }
  os << "\x93NUMPY" << char(1) << char(0);
  os << char(header.size() & 0xff) << char(header.size() >> 8) << header;
  for (double v : tensor.data) {
    if (element.isF32()) {
      float f = static_cast<float>(v);
      os.write(reinterpret_cast<const char *>(&f), 4);
    } else if (element.isF16()) {
      APFloat f(v);
      bool lost;
      f.convert(APFloat::IEEEhalf(), APFloat::rmNearestTiesToEven, &lost);
      uint16_t h = static_cast<uint16_t>(f.bitcastToAPInt().getZExtValue());
      os.write(reinterpret_cast<const char *>(&h), 2);
    } else if (element.isF64()) {
      os.write(reinterpret_cast<const char *>(&v), 8);
    } else {
      int64_t i = static_cast<int64_t>(v);
      unsigned bytes = element.isInteger(1)
                           ? 1
                           : cast<IntegerType>(element).getWidth() / 8;
      os.write(reinterpret_cast<const char *>(&i), bytes); // little-endian
    }
  }
  return success();
}

} // namespace

LogicalResult mlir::qllm::runReference(Operation *root,
                                       ArrayRef<std::string> inputs,
                                       StringRef outputDir,
                                       llvm::raw_ostream &os) {
  func::FuncOp func = findModelFunction(root);
  if (!func)
    return failure();
  llvm::StringMap<std::string> files;
  for (const std::string &input : inputs) {
    auto [name, path] = StringRef(input).split('=');
    if (path.empty())
      return root->emitError() << "--reference-input wants NAME=FILE.npy, got '"
                               << input << "'";
    files[name] = path.str();
  }
  ReferenceEvaluator evaluator(/*maxElements=*/int64_t(1) << 26);
  for (BlockArgument arg : func.getArguments()) {
    auto name = func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "qllm.name");
    if (!name)
      return emitError(func.getLoc()) << "argument " << arg.getArgNumber()
                              << " has no qllm.name";
    auto it = files.find(name.getValue());
    if (it == files.end())
      return emitError(func.getLoc()) << "no --reference-input for argument '"
                              << name.getValue() << "'";
    std::string descr, error;
    FailureOr<RefTensor> tensor = readNpy(it->second, descr, error);
    if (failed(tensor))
      return emitError(func.getLoc()) << "input '" << name.getValue() << "': " << error;
    auto type = cast<RankedTensorType>(arg.getType());
    if (static_cast<int64_t>(tensor->shape.size()) != type.getRank())
      return emitError(func.getLoc()) << "input '" << name.getValue() << "' has rank "
                              << tensor->shape.size() << ", expected "
                              << type.getRank();
    for (int64_t d = 0; d < type.getRank(); ++d)
      if (!ShapedType::isDynamic(type.getDimSize(d)) &&
          type.getDimSize(d) != tensor->shape[d])
        return emitError(func.getLoc()) << "input '" << name.getValue()
                                << "' has dimension " << d << " = "
                                << tensor->shape[d] << ", expected "
                                << type.getDimSize(d);
    evaluator.bind(arg, std::move(*tensor));
  }
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  for (auto [i, value] : llvm::enumerate(ret.getOperands())) {
    auto name = func.getResultAttrOfType<StringAttr>(i, "qllm.name");
    std::string fileName = (name ? name.getValue().str() : "result" + std::to_string(i));
    FailureOr<RefTensor> result = evaluator.evaluate(value);
    if (failed(result))
      return emitError(func.getLoc()) << "evaluating '" << fileName
                              << "' failed: " << evaluator.getError();
    SmallString<256> path(outputDir);
    llvm::sys::path::append(path, fileName + ".npy");
    std::string error;
    if (failed(writeNpy(path, *result,
                        cast<RankedTensorType>(value.getType()).getElementType(),
                        error)))
      return emitError(func.getLoc()) << error;
    os << fileName << " " << path << "\n";
  }
  return success();
}
