//===- OnnxImporter.cpp - ONNX models into the qllm dialect ---------------===//
//
// Reads the protobuf, maps external data, creates weights, sorts the nodes
// and hands each to its converter. See ImportContext.h for the converters.
//
//===----------------------------------------------------------------------===//

#include "quant/Import/OnnxImporter.h"

#include "ImportContext.h"

#include "qllm/IR/Weightless.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/BitVector.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

#include <google/protobuf/io/coded_stream.h>

#include <deque>
#include <fcntl.h>
#include <memory>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace mlir;
using namespace mlir::qllm;
using namespace mlir::qllm::onnx_import;

namespace {

/// 32- and 64-bit integer tensors up to this many elements (shapes, indices)
/// and scalar floats become inline `qllm.constant`s, so shape subgraphs can
/// fold; everything else, packed 8-bit data included, is a `qllm.weight`.
constexpr int64_t kMaxInlineInts = 1024;

//===----------------------------------------------------------------------===//
// External data, mapped read-only and shared by the blobs that point into it
//===----------------------------------------------------------------------===//

struct MappedFile {
  void *base = nullptr;
  size_t size = 0;
  ~MappedFile() {
    if (base && size)
      munmap(base, size);
  }
  /// Gives back the whole pages inside [data, data + bytes): a blob freed by a
  /// pass (a weight that was rewritten) stops counting in the resident set
  /// although other blobs keep the mapping alive. The mapping is read-only, so
  /// its pages are clean copies of the file and nothing is lost.
  void release(const void *data, size_t bytes) {
    uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    uintptr_t begin = reinterpret_cast<uintptr_t>(data);
    uintptr_t first = (begin + page - 1) / page * page;
    uintptr_t last = (begin + bytes) / page * page;
    if (last > first)
      ::madvise(reinterpret_cast<void *>(first), last - first, MADV_DONTNEED);
  }
};

class ExternalData {
public:
  explicit ExternalData(StringRef modelPath)
      : directory(llvm::sys::path::parent_path(modelPath)) {}

  /// The bytes [offset, offset + length) of `location`, with the mapping that
  /// keeps them alive. `length` < 0 means "to the end of the file".
  FailureOr<std::pair<std::shared_ptr<MappedFile>, ArrayRef<char>>>
  get(StringRef location, int64_t offset, int64_t length, std::string &error) {
    if (location.empty() || llvm::sys::path::is_absolute(location) ||
        llvm::is_contained(llvm::make_range(llvm::sys::path::begin(location),
                                            llvm::sys::path::end(location)),
                           "..")) {
      error = "external data location '" + location.str() +
              "' must be a relative path inside the model's directory";
      return failure();
    }
    std::shared_ptr<MappedFile> &file = files[location];
    SmallString<256> path(directory);
    llvm::sys::path::append(path, location);
    if (!file) {
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        error = "cannot open external data file '" + path.str().str() + "'";
        return failure();
      }
      struct stat st;
      if (::fstat(fd, &st) != 0) {
        ::close(fd);
        error = "cannot stat '" + path.str().str() + "'";
        return failure();
      }
      auto mapped = std::make_shared<MappedFile>();
      mapped->size = static_cast<size_t>(st.st_size);
      if (mapped->size) {
        void *base = ::mmap(nullptr, mapped->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (base == MAP_FAILED) {
          ::close(fd);
          error = "cannot map '" + path.str().str() + "'";
          return failure();
        }
        mapped->base = base;
      }
      ::close(fd);
      file = std::move(mapped);
    }
    uint64_t size = file->size;
    if (offset < 0 || static_cast<uint64_t>(offset) > size ||
        (length >= 0 && static_cast<uint64_t>(length) > size - offset)) {
      error = llvm::formatv("external data [offset {0}, length {1}] lies "
                            "beyond the end of '{2}' ({3} bytes)",
                            offset, length, path, size)
                  .str();
      return failure();
    }
    if (length < 0)
      length = static_cast<int64_t>(size - offset);
    return std::make_pair(
        file, ArrayRef<char>(static_cast<const char *>(file->base) + offset,
                             static_cast<size_t>(length)));
  }

private:
  SmallString<256> directory;
  llvm::StringMap<std::shared_ptr<MappedFile>> files;
};

//===----------------------------------------------------------------------===//
// Tensor data
//===----------------------------------------------------------------------===//

/// Bytes per element in ONNX storage (bool is one byte).
unsigned storageBytes(Type element) {
  if (element.isInteger(1))
    return 1;
  return (element.getIntOrFloatBitWidth() + 7) / 8;
}

/// A valid MLIR resource key derived from an ONNX name.
std::string resourceKey(StringRef name) {
  std::string key;
  for (char c : name)
    key.push_back(llvm::isAlnum(c) || c == '_' || c == '.' ? c : '_');
  if (key.empty() || llvm::isDigit(key.front()))
    key.insert(key.begin(), '_');
  return key;
}

/// Element values stored in the typed (non-raw) fields of a TensorProto,
/// written out as little-endian bytes of `element`.
FailureOr<std::vector<char>> typedFieldBytes(const onnx::TensorProto &tensor,
                                             Type element, uint64_t count,
                                             std::string &error) {
  std::vector<char> bytes;
  auto append = [&](const void *p, size_t n) {
    const char *c = static_cast<const char *>(p);
    bytes.insert(bytes.end(), c, c + n);
  };
  uint64_t found = 0;
  switch (tensor.data_type()) {
  case onnx::TensorProto::FLOAT:
    found = tensor.float_data_size();
    for (float v : tensor.float_data())
      append(&v, 4);
    break;
  case onnx::TensorProto::DOUBLE:
    found = tensor.double_data_size();
    for (double v : tensor.double_data())
      append(&v, 8);
    break;
  case onnx::TensorProto::INT64:
    found = tensor.int64_data_size();
    for (int64_t v : tensor.int64_data())
      append(&v, 8);
    break;
  case onnx::TensorProto::UINT64:
    found = tensor.uint64_data_size();
    for (uint64_t v : tensor.uint64_data())
      append(&v, 8);
    break;
  case onnx::TensorProto::INT32:
    found = tensor.int32_data_size();
    for (int32_t v : tensor.int32_data())
      append(&v, 4);
    break;
  case onnx::TensorProto::FLOAT16:
  case onnx::TensorProto::BFLOAT16:
  case onnx::TensorProto::UINT16:
  case onnx::TensorProto::INT16:
    found = tensor.int32_data_size();
    for (int32_t v : tensor.int32_data()) {
      uint16_t h = static_cast<uint16_t>(v);
      append(&h, 2);
    }
    break;
  case onnx::TensorProto::INT8:
  case onnx::TensorProto::UINT8:
  case onnx::TensorProto::BOOL:
    found = tensor.int32_data_size();
    for (int32_t v : tensor.int32_data()) {
      uint8_t b = static_cast<uint8_t>(v);
      append(&b, 1);
    }
    break;
  default:
    error = "unsupported tensor data type " + std::to_string(tensor.data_type());
    return failure();
  }
  (void)element;
  if (found != count) {
    error = llvm::formatv("holds {0} values but its shape needs {1}", found,
                          count)
                .str();
    return failure();
  }
  return bytes;
}

RankedTensorType tensorTypeOf(MLIRContext *ctx, const onnx::TensorProto &tensor,
                              std::string &error) {
  Type element = elementTypeOf(ctx, tensor.data_type());
  if (!element) {
    error = "unsupported element type (ONNX data type " +
            std::to_string(tensor.data_type()) + ")";
    return {};
  }
  SmallVector<int64_t> shape(tensor.dims().begin(), tensor.dims().end());
  for (int64_t d : shape)
    if (d < 0) {
      error = "negative dimension " + std::to_string(d);
      return {};
    }
  return RankedTensorType::get(shape, element);
}

//===----------------------------------------------------------------------===//
// The importer
//===----------------------------------------------------------------------===//

class OnnxImporter {
public:
  OnnxImporter(MLIRContext *ctx, StringRef path,
               const OnnxImportOptions &options)
      : ctx(ctx), path(path), options(options), external(path), builder(ctx),
        importContext(builder, values, path) {
    registerStandardConverters(converters);
    registerContribConverters(converters);
    registerQdqConverters(converters);
    importContext.subgraphImporter = [this](const onnx::GraphProto &graph) {
      return importGraphNodes(graph);
    };
  }

  OwningOpRef<ModuleOp> run(llvm::MemoryBufferRef buffer);

private:
  InFlightDiagnostic fileError() {
    return emitError(FileLineColLoc::get(ctx, path, 0, 0)) << path << ": ";
  }
  LogicalResult readOpsets();
  LogicalResult importInitializer(onnx::TensorProto &tensor);
  FailureOr<Type> valueType(const onnx::ValueInfoProto &info,
                            SmallVectorImpl<Attribute> &dimNames);
  LogicalResult sortNodes(const onnx::GraphProto &graph, std::vector<int> &order);
  LogicalResult importNode(const onnx::NodeProto &node);
  LogicalResult importGraphNodes(const onnx::GraphProto &graph);

  MLIRContext *ctx;
  std::string path;
  OnnxImportOptions options;
  ExternalData external;
  OpBuilder builder;
  onnx::ModelProto model;
  llvm::StringMap<Value> values;
  llvm::StringMap<Converter> converters;
  llvm::StringMap<int64_t> opsets;
  ImportContext importContext;
};

LogicalResult OnnxImporter::readOpsets() {
  for (const onnx::OperatorSetIdProto &opset : model.opset_import()) {
    std::string domain = opset.domain() == "ai.onnx" ? "" : opset.domain();
    opsets[domain] = opset.version();
  }
  auto it = opsets.find("");
  if (it == opsets.end())
    return fileError() << "the model imports no ONNX opset";
  if (it->second < 13)
    return fileError() << "ONNX opset " << it->second
                       << " is not supported; opset 13 or later is needed";
  return success();
}

FailureOr<Type> OnnxImporter::valueType(const onnx::ValueInfoProto &info,
                                        SmallVectorImpl<Attribute> &dimNames) {
  if (!info.type().has_tensor_type())
    return fileError() << "value '" << info.name() << "' is not a tensor";
  const onnx::TypeProto::Tensor &tensor = info.type().tensor_type();
  Type element = elementTypeOf(ctx, tensor.elem_type());
  if (!element)
    return fileError() << "value '" << info.name()
                       << "' has an unsupported element type (ONNX data type "
                       << tensor.elem_type() << ")";
  if (!tensor.has_shape())
    return fileError() << "value '" << info.name()
                       << "' has no shape (its rank is needed)";
  SmallVector<int64_t> shape;
  for (const onnx::TensorShapeProto::Dimension &dim : tensor.shape().dim()) {
    if (dim.has_dim_value() && dim.dim_value() >= 0) {
      shape.push_back(dim.dim_value());
      dimNames.push_back(StringAttr::get(ctx, ""));
    } else {
      shape.push_back(ShapedType::kDynamic);
      dimNames.push_back(StringAttr::get(ctx, dim.dim_param()));
    }
  }
  return Type(RankedTensorType::get(shape, element));
}

LogicalResult OnnxImporter::importInitializer(onnx::TensorProto &tensor) {
  std::string error;
  RankedTensorType type = tensorTypeOf(ctx, tensor, error);
  if (!type)
    return fileError() << "initializer '" << tensor.name() << "': " << error;
  Location loc = NameLoc::get(StringAttr::get(ctx, tensor.name()),
                              FileLineColLoc::get(ctx, path, 0, 0));
  Type element = type.getElementType();
  uint64_t count = static_cast<uint64_t>(type.getNumElements());
  // 4-bit integers are packed two per byte.
  bool packed4 = element.isInteger(4);
  uint64_t expectedBytes =
      packed4 ? (count + 1) / 2 : count * storageBytes(element);
  if (packed4 && !tensor.has_raw_data() &&
      tensor.data_location() != onnx::TensorProto::EXTERNAL)
    return fileError() << "initializer '" << tensor.name()
                       << "': 4-bit integers are supported as raw data only";

  bool inlineConstant =
      ((element.isInteger(64) || element.isInteger(32)) &&
       count <= kMaxInlineInts) ||
      (isa<FloatType>(element) && type.getRank() == 0);
  if (inlineConstant &&
      tensor.data_location() != onnx::TensorProto::EXTERNAL) {
    FailureOr<DenseElementsAttr> dense = denseFromTensor(ctx, tensor, error);
    if (failed(dense))
      return fileError() << "initializer '" << tensor.name() << "': " << error;
    values[tensor.name()] = ConstantOp::create(builder, loc, *dense);
    return success();
  }

  AsmResourceBlob blob;
  size_t alignment = std::max<size_t>(storageBytes(element), 1);
  if (options.weightless &&
      tensor.data_location() == onnx::TensorProto::EXTERNAL) {
    blob = zeroBlob(expectedBytes, alignment); // the data file is not read
  } else if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    int64_t offset = 0, length = -1;
    for (const onnx::StringStringEntryProto &entry : tensor.external_data()) {
      if (entry.key() == "location")
        location = entry.value();
      else if (entry.key() == "offset" || entry.key() == "length") {
        int64_t value = 0;
        if (!llvm::to_integer(StringRef(entry.value()), value, 10) || value < 0)
          return fileError() << "initializer '" << tensor.name()
                             << "': bad external data " << entry.key() << " '"
                             << entry.value() << "'";
        (entry.key() == "offset" ? offset : length) = value;
      }
    }
    auto data = external.get(location, offset, length, error);
    if (failed(data))
      return fileError() << "initializer '" << tensor.name() << "': " << error;
    ArrayRef<char> bytes = data->second;
    if (bytes.size() != expectedBytes)
      return fileError() << "initializer '" << tensor.name() << "': external "
                         << "data holds " << bytes.size() << " bytes but "
                         << type << " needs " << expectedBytes;
    if (reinterpret_cast<uintptr_t>(bytes.data()) % alignment == 0) {
      // Point into the mapping; the blob keeps it alive.
      blob = AsmResourceBlob(
          bytes, alignment,
          [keepAlive = data->first](void *data, size_t bytes,
                                    size_t) mutable {
            keepAlive->release(data, bytes);
            keepAlive.reset();
          },
          /*dataIsMutable=*/false);
    } else {
      blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(bytes, alignment);
    }
  } else if (tensor.has_raw_data()) {
    if (tensor.raw_data().size() != expectedBytes)
      return fileError() << "initializer '" << tensor.name() << "': raw data "
                         << "holds " << tensor.raw_data().size()
                         << " bytes but " << type << " needs "
                         << expectedBytes;
    // Take the bytes over from the protobuf instead of copying them.
    std::string *owned = tensor.release_raw_data();
    if (reinterpret_cast<uintptr_t>(owned->data()) % alignment == 0) {
      blob = AsmResourceBlob(
          ArrayRef<char>(owned->data(), owned->size()), alignment,
          [owned](void *, size_t, size_t) { delete owned; },
          /*dataIsMutable=*/false);
    } else {
      blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(
          ArrayRef<char>(owned->data(), owned->size()), alignment);
      delete owned;
    }
  } else {
    FailureOr<std::vector<char>> bytes =
        typedFieldBytes(tensor, element, count, error);
    if (failed(bytes))
      return fileError() << "initializer '" << tensor.name() << "': " << error;
    blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(*bytes, alignment);
  }
  auto attr = DenseResourceElementsAttr::get(type, resourceKey(tensor.name()),
                                             std::move(blob));
  values[tensor.name()] = WeightOp::create(builder, loc, tensor.name(), attr);
  return success();
}

LogicalResult OnnxImporter::sortNodes(const onnx::GraphProto &graph,
                                      std::vector<int> &order) {
  int count = graph.node_size();
  // Values available before any node runs.
  llvm::StringSet<> available;
  for (const auto &entry : values)
    available.insert(entry.getKey());
  std::vector<int> missing(count, 0);
  llvm::StringMap<SmallVector<int, 2>> consumers;
  std::deque<int> ready;
  std::vector<llvm::StringSet<>> reads(count);
  for (int i = 0; i < count; ++i) {
    collectReads(graph.node(i), reads[i]);
    for (const auto &entry : reads[i]) {
      StringRef input = entry.getKey();
      if (available.contains(input))
        continue;
      ++missing[i];
      consumers[input].push_back(i);
    }
    if (missing[i] == 0)
      ready.push_back(i);
  }
  while (!ready.empty()) {
    int i = ready.front();
    ready.pop_front();
    order.push_back(i);
    for (const std::string &output : graph.node(i).output()) {
      if (output.empty() || !available.insert(output).second)
        continue;
      auto it = consumers.find(output);
      if (it == consumers.end())
        continue;
      for (int consumer : it->second)
        if (--missing[consumer] == 0)
          ready.push_back(consumer);
    }
  }
  if (static_cast<int>(order.size()) == count)
    return success();
  // Name one node that never became ready, and an input it lacks.
  for (int i = 0; i < count; ++i) {
    if (missing[i] == 0)
      continue;
    const onnx::NodeProto &node = graph.node(i);
    for (const auto &entry : reads[i])
      if (!available.contains(entry.getKey()))
        return fileError() << "node '" << node.name() << "' ("
                           << node.op_type() << ") reads '" << entry.getKey()
                           << "', which no node, input or initializer "
                              "produces (or a cycle does)";
  }
  return fileError() << "the graph's nodes cannot be ordered";
}

LogicalResult OnnxImporter::importGraphNodes(const onnx::GraphProto &graph) {
  for (const onnx::TensorProto &tensor : graph.initializer())
    if (&graph != &model.graph() &&
        failed(importInitializer(const_cast<onnx::TensorProto &>(tensor))))
      return failure();
  std::vector<int> order;
  if (failed(sortNodes(graph, order)))
    return failure();
  for (int i : order)
    if (failed(importNode(graph.node(i))))
      return failure();
  return success();
}

LogicalResult OnnxImporter::importNode(const onnx::NodeProto &node) {
  std::string domain = node.domain() == "ai.onnx" ? "" : node.domain();
  auto opset = opsets.find(domain);
  Location loc = NameLoc::get(StringAttr::get(ctx, node.name().empty()
                                                       ? node.op_type()
                                                       : node.name()),
                              FileLineColLoc::get(ctx, path, 0, 0));
  importContext.setNode(node, opset == opsets.end() ? 1 : opset->second, loc);
  auto converter = converters.find(domain + ":" + node.op_type());
  if (converter == converters.end())
    return importContext.error() << "unsupported op";

  // Collect what the converter creates, to verify it in the node's terms.
  Block *block = builder.getInsertionBlock();
  Operation *last = block->empty() ? nullptr : &block->back();
  if (failed(converter->second(importContext)))
    return failure();
  for (unsigned i = 0; i < importContext.numOutputs(); ++i)
    if (importContext.hasOutput(i) && !values.count(node.output(i)))
      return importContext.error()
             << "produces no value for output " << i << " '" << node.output(i)
             << "'";

  auto first = last ? std::next(last->getIterator()) : block->begin();
  for (Operation &op : llvm::make_range(first, block->end())) {
    std::string message;
    LogicalResult verified = success();
    {
      ScopedDiagnosticHandler capture(ctx, [&](Diagnostic &diag) {
        if (diag.getSeverity() == DiagnosticSeverity::Error &&
            message.empty())
          message = diag.str();
        return success();
      });
      verified = mlir::verify(&op);
    }
    if (failed(verified))
      return importContext.error() << "imports as invalid IR: " << message;
  }
  return success();
}

OwningOpRef<ModuleOp> OnnxImporter::run(llvm::MemoryBufferRef buffer) {
  // Protobuf's default 64 MiB message limit is lifted: models with embedded
  // weights are larger.
  google::protobuf::io::CodedInputStream stream(
      reinterpret_cast<const uint8_t *>(buffer.getBufferStart()),
      static_cast<int>(std::min<size_t>(buffer.getBufferSize(), INT_MAX)));
  stream.SetTotalBytesLimit(INT_MAX);
  if (!model.ParseFromCodedStream(&stream) ||
      !stream.ConsumedEntireMessage()) {
    fileError() << "not a valid ONNX model (the protobuf does not parse; is "
                   "the file truncated?)";
    return nullptr;
  }
  if (!model.has_graph()) {
    fileError() << "the model has no graph";
    return nullptr;
  }
  if (failed(readOpsets()))
    return nullptr;

  Location moduleLoc = FileLineColLoc::get(ctx, path, 0, 0);
  OwningOpRef<ModuleOp> module = ModuleOp::create(moduleLoc);
  SmallVector<NamedAttribute> moduleAttrs;
  moduleAttrs.emplace_back(builder.getStringAttr("qllm.source"),
                           builder.getStringAttr(llvm::sys::path::filename(path)));
  if (!model.producer_name().empty())
    moduleAttrs.emplace_back(
        builder.getStringAttr("qllm.producer"),
        builder.getStringAttr(model.producer_name() + " " +
                              model.producer_version()));
  SmallVector<NamedAttribute> opsetAttrs;
  for (const auto &entry : opsets)
    opsetAttrs.emplace_back(
        builder.getStringAttr(entry.getKey().empty() ? "ai.onnx"
                                                     : entry.getKey()),
        builder.getI64IntegerAttr(entry.getValue()));
  moduleAttrs.emplace_back(builder.getStringAttr("qllm.opsets"),
                           builder.getDictionaryAttr(opsetAttrs));
  if (model.metadata_props_size()) {
    // The model's key/value metadata (e.g. max_seq_len), for later passes.
    llvm::StringMap<std::string> unique; // a repeated key keeps its last value
    for (const onnx::StringStringEntryProto &entry : model.metadata_props())
      if (!entry.key().empty())
        unique[entry.key()] = entry.value();
    SmallVector<NamedAttribute> metadata;
    for (const auto &entry : unique)
      metadata.emplace_back(builder.getStringAttr(entry.getKey()),
                            builder.getStringAttr(entry.getValue()));
    moduleAttrs.emplace_back(builder.getStringAttr("qllm.metadata"),
                             builder.getDictionaryAttr(metadata));
  }
  if (options.weightless)
    moduleAttrs.emplace_back(builder.getStringAttr(kWeightlessAttrName),
                             builder.getUnitAttr());
  (*module)->setAttrs(moduleAttrs);

  onnx::GraphProto &graph = *model.mutable_graph();
  if (graph.sparse_initializer_size()) {
    fileError() << "sparse initializers are not supported";
    return nullptr;
  }

  // Function signature: graph inputs that are not initializers.
  llvm::StringSet<> initializerNames;
  for (const onnx::TensorProto &tensor : graph.initializer())
    initializerNames.insert(tensor.name());
  SmallVector<Type> argTypes;
  SmallVector<DictionaryAttr> argAttrs;
  SmallVector<const onnx::ValueInfoProto *> args;
  for (const onnx::ValueInfoProto &input : graph.input()) {
    if (initializerNames.contains(input.name()))
      continue;
    SmallVector<Attribute> dims;
    FailureOr<Type> type = valueType(input, dims);
    if (failed(type))
      return nullptr;
    argTypes.push_back(*type);
    argAttrs.push_back(builder.getDictionaryAttr(
        {builder.getNamedAttr("qllm.name", builder.getStringAttr(input.name())),
         builder.getNamedAttr("qllm.dims", builder.getArrayAttr(dims))}));
    args.push_back(&input);
  }

  builder.setInsertionPointToEnd(module->getBody());
  auto func = func::FuncOp::create(builder, moduleLoc, "main",
                                   builder.getFunctionType(argTypes, {}));
  func.setAllArgAttrs(argAttrs);
  Block *entry = func.addEntryBlock();
  builder.setInsertionPointToStart(entry);
  for (auto [arg, info] : llvm::zip_equal(entry->getArguments(), args)) {
    arg.setLoc(NameLoc::get(builder.getStringAttr(info->name()), moduleLoc));
    values[info->name()] = arg;
  }

  for (onnx::TensorProto &tensor : *graph.mutable_initializer())
    if (failed(importInitializer(tensor)))
      return nullptr;

  if (failed(importGraphNodes(graph)))
    return nullptr;

  SmallVector<Value> results;
  SmallVector<Type> resultTypes;
  SmallVector<DictionaryAttr> resultAttrs;
  for (const onnx::ValueInfoProto &output : graph.output()) {
    auto it = values.find(output.name());
    if (it == values.end()) {
      fileError() << "graph output '" << output.name()
                  << "' is not produced by any node";
      return nullptr;
    }
    SmallVector<Attribute> dims;
    FailureOr<Type> declared = valueType(output, dims);
    if (failed(declared))
      return nullptr;
    auto actual = cast<RankedTensorType>(it->second.getType());
    auto expected = cast<RankedTensorType>(*declared);
    if (actual.getElementType() != expected.getElementType() ||
        actual.getRank() != expected.getRank()) {
      fileError() << "graph output '" << output.name() << "' is declared "
                  << expected << " but computes as " << actual;
      return nullptr;
    }
    results.push_back(it->second);
    resultTypes.push_back(actual);
    resultAttrs.push_back(builder.getDictionaryAttr(
        {builder.getNamedAttr("qllm.name", builder.getStringAttr(output.name())),
         builder.getNamedAttr("qllm.dims", builder.getArrayAttr(dims))}));
  }
  func::ReturnOp::create(builder, moduleLoc, results);
  func.setFunctionType(builder.getFunctionType(argTypes, resultTypes));
  func.setAllResultAttrs(resultAttrs);
  // Inputs a converter made obsolete, once nothing reads them.
  llvm::BitVector obsolete(func.getNumArguments());
  for (Value v : importContext.obsoleteInputs)
    if (auto arg = dyn_cast<BlockArgument>(v); arg && arg.use_empty())
      obsolete.set(arg.getArgNumber());
  if (obsolete.any() && failed(func.eraseArguments(obsolete)))
    return nullptr;

  if (failed(mlir::verify(*module)))
    return nullptr;
  return module;
}

} // namespace

//===----------------------------------------------------------------------===//
// ImportContext
//===----------------------------------------------------------------------===//

LogicalResult ImportContext::importSubgraph(const onnx::GraphProto &graph) {
  const onnx::NodeProto *savedNode = node;
  int64_t savedOpset = opset;
  Location savedLoc = loc;
  LogicalResult result = subgraphImporter(graph);
  setNode(*savedNode, savedOpset, savedLoc);
  return result;
}

Value ImportContext::lookup(StringRef name) const {
  auto it = values.find(name);
  return it == values.end() ? Value() : it->second;
}

Value ImportContext::input(unsigned i) const {
  if (static_cast<int>(i) >= node->input_size() || node->input(i).empty())
    return {};
  return values.lookup(node->input(i));
}

FailureOr<Value> ImportContext::requiredInput(unsigned i) {
  if (Value v = input(i))
    return v;
  return error() << "needs input " << i;
}

void ImportContext::setOutput(unsigned i, Value value) {
  if (hasOutput(i))
    values[node->output(i)] = value;
}

const onnx::AttributeProto *ImportContext::attribute(StringRef name) const {
  for (const onnx::AttributeProto &attr : node->attribute())
    if (attr.name() == name)
      return &attr;
  return nullptr;
}

int64_t ImportContext::intAttr(StringRef name, int64_t defaultValue) const {
  const onnx::AttributeProto *attr = attribute(name);
  return attr ? attr->i() : defaultValue;
}

float ImportContext::floatAttr(StringRef name, float defaultValue) const {
  const onnx::AttributeProto *attr = attribute(name);
  return attr ? attr->f() : defaultValue;
}

std::optional<SmallVector<int64_t>>
ImportContext::intsAttr(StringRef name) const {
  const onnx::AttributeProto *attr = attribute(name);
  if (!attr)
    return std::nullopt;
  return SmallVector<int64_t>(attr->ints().begin(), attr->ints().end());
}

FailureOr<SmallVector<int64_t>> ImportContext::constantInts(Value value,
                                                            StringRef what) {
  auto constant = value ? value.getDefiningOp<ConstantOp>() : ConstantOp();
  auto ints = constant ? dyn_cast<DenseIntElementsAttr>(constant.getValue())
                       : DenseIntElementsAttr();
  if (!ints)
    return error() << what << " must be a constant integer tensor";
  SmallVector<int64_t> result;
  for (const APInt &v : ints.getValues<APInt>())
    result.push_back(v.getSExtValue());
  return result;
}

std::optional<SmallVector<int64_t>> ImportContext::knownInts(Value value) {
  if (!value)
    return std::nullopt;
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type || !type.getElementType().isInteger() || type.getRank() > 1 ||
      !type.hasStaticShape() || type.getNumElements() > kMaxInlineInts)
    return std::nullopt;
  auto cached = knownCache.find(value);
  if (cached != knownCache.end())
    return cached->second;

  int64_t count = type.getNumElements();
  SmallVector<int64_t> result(count, ShapedType::kDynamic);
  Operation *op = value.getDefiningOp();
  auto known = [&](Value v) { return knownInts(v); };
  if (!op) {
    // A function argument: nothing known.
  } else if (auto constant = dyn_cast<ConstantOp>(op)) {
    if (auto ints = dyn_cast<DenseIntElementsAttr>(constant.getValue())) {
      result.clear();
      for (const APInt &v : ints.getValues<APInt>())
        result.push_back(v.getSExtValue());
    }
  } else if (auto shapeOf = dyn_cast<ShapeOfOp>(op)) {
    result = SmallVector<int64_t>(rankedType(shapeOf.getInput()).getShape());
  } else if (auto gather = dyn_cast<GatherOp>(op)) {
    auto data = known(gather.getData());
    auto indices = known(gather.getIndices());
    if (data && indices && indices->size() == result.size()) {
      for (auto [i, index] : llvm::enumerate(*indices)) {
        if (isDynamic(index))
          continue;
        int64_t n = static_cast<int64_t>(data->size());
        int64_t j = index < 0 ? index + n : index;
        if (j >= 0 && j < n)
          result[i] = (*data)[j];
      }
    }
  } else if (auto concat = dyn_cast<ConcatOp>(op)) {
    SmallVector<int64_t> joined;
    for (Value input : concat.getInputs()) {
      auto part = known(input);
      if (!part)
        part = SmallVector<int64_t>(rankedType(input).getNumElements(),
                                    ShapedType::kDynamic);
      llvm::append_range(joined, *part);
    }
    if (joined.size() == result.size())
      result = joined;
  } else if (isa<UnsqueezeOp, SqueezeOp, ReshapeOp, CastOp>(op)) {
    if (auto inner = known(op->getOperand(0)); inner && inner->size() == result.size())
      result = *inner;
  } else if (auto slice = dyn_cast<SliceOp>(op)) {
    auto inner = known(slice.getInput());
    if (inner && slice.getAxes().size() == 1) {
      int64_t n = static_cast<int64_t>(inner->size());
      int64_t step = slice.getSteps()[0];
      int64_t start = SliceOp::getStartIndex(n, slice.getStarts()[0], step);
      for (int64_t i = 0; i < count; ++i) {
        int64_t j = start + i * step;
        if (j >= 0 && j < n)
          result[i] = (*inner)[j];
      }
    }
  } else if (auto fill = dyn_cast<FillOp>(op)) {
    // ConstantOfShape of a static small shape: every entry is the value.
    if (auto value = dyn_cast<IntegerAttr>(fill.getValue()))
      result.assign(count, value.getValue().getSExtValue());
  } else if (auto select = dyn_cast<SelectOp>(op)) {
    // torch's expand: where(shape == -1, 1, shape).
    auto cond = known(select.getCondition());
    auto a = known(select.getOnTrue());
    auto c = known(select.getOnFalse());
    if (cond && a && c && !cond->empty() && !a->empty() && !c->empty()) {
      for (int64_t i = 0; i < count; ++i) {
        int64_t choose = (*cond)[cond->size() == 1 ? 0 : i];
        if (isDynamic(choose))
          continue;
        result[i] = choose ? (*a)[a->size() == 1 ? 0 : i]
                           : (*c)[c->size() == 1 ? 0 : i];
      }
    }
  } else if (auto compare = dyn_cast<CompareOp>(op)) {
    auto lhs = known(compare.getLhs());
    auto rhs = known(compare.getRhs());
    if (lhs && rhs && !lhs->empty() && !rhs->empty()) {
      for (int64_t i = 0; i < count; ++i) {
        int64_t a = (*lhs)[lhs->size() == 1 ? 0 : i];
        int64_t c = (*rhs)[rhs->size() == 1 ? 0 : i];
        if (isDynamic(a) || isDynamic(c))
          continue;
        switch (compare.getPredicate()) {
        case ComparePredicate::eq: result[i] = a == c; break;
        case ComparePredicate::ne: result[i] = a != c; break;
        case ComparePredicate::lt: result[i] = a < c; break;
        case ComparePredicate::le: result[i] = a <= c; break;
        case ComparePredicate::gt: result[i] = a > c; break;
        case ComparePredicate::ge: result[i] = a >= c; break;
        }
      }
    }
  } else if (isa<AddOp, SubOp, MulOp, DivOp>(op)) {
    auto lhs = known(op->getOperand(0));
    auto rhs = known(op->getOperand(1));
    if (lhs && rhs) {
      for (int64_t i = 0; i < count; ++i) {
        int64_t a = (*lhs)[lhs->size() == 1 ? 0 : i];
        int64_t c = (*rhs)[rhs->size() == 1 ? 0 : i];
        if (isDynamic(a) || isDynamic(c))
          continue;
        if (isa<AddOp>(op))
          result[i] = a + c;
        else if (isa<SubOp>(op))
          result[i] = a - c;
        else if (isa<MulOp>(op))
          result[i] = a * c;
        else if (c != 0)
          result[i] = a / c;
      }
    }
  }
  if (static_cast<int64_t>(result.size()) != count)
    result.assign(count, ShapedType::kDynamic);
  knownCache[value] = result;
  return result;
}

Value ImportContext::constantI64(ArrayRef<int64_t> values, bool scalar) {
  auto type = scalar ? RankedTensorType::get({}, b.getI64Type())
                     : RankedTensorType::get(
                           {static_cast<int64_t>(values.size())}, b.getI64Type());
  return ConstantOp::create(b, loc, DenseIntElementsAttr::get(type, values));
}

Value ImportContext::constantFloat(double value, Type element) {
  auto type = RankedTensorType::get({}, element);
  return ConstantOp::create(
      b, loc, DenseElementsAttr::get(type, b.getFloatAttr(element, value)));
}

FailureOr<int64_t> ImportContext::normalizeAxis(int64_t axis, int64_t rank,
                                                StringRef what) {
  if (axis < -rank || axis >= rank)
    return error() << what << " " << axis << " is out of range for rank "
                   << rank;
  return axis < 0 ? axis + rank : axis;
}

std::string ImportContext::describeNode() const {
  std::string domain = node->domain().empty() ? "ai.onnx" : node->domain();
  return llvm::formatv("{0} (domain '{1}', opset {2}) node '{3}' in {4}",
                       node->op_type(), domain, opset, node->name(), modelPath)
      .str();
}

InFlightDiagnostic ImportContext::error() {
  return emitError(loc) << describeNode() << ": ";
}

void ImportContext::warnOnce(StringRef message) {
  if (warned.insert(message).second)
    emitWarning(loc) << describeNode() << ": " << message;
}

//===----------------------------------------------------------------------===//
// Entry point
//===----------------------------------------------------------------------===//

OwningOpRef<ModuleOp>
mlir::qllm::importOnnxModel(llvm::MemoryBufferRef buffer, StringRef path,
                            MLIRContext *context,
                            const OnnxImportOptions &options) {
  context->loadDialect<QLLMDialect, func::FuncDialect>();
  OnnxImporter importer(context, path, options);
  return importer.run(buffer);
}

//===----------------------------------------------------------------------===//
// Subgraph reads
//===----------------------------------------------------------------------===//

void mlir::qllm::onnx_import::collectCaptures(const onnx::GraphProto &graph, llvm::StringSet<> &reads) {
  llvm::StringSet<> defined, inner;
  for (const onnx::ValueInfoProto &input : graph.input())
    defined.insert(input.name());
  for (const onnx::TensorProto &tensor : graph.initializer())
    defined.insert(tensor.name());
  for (const onnx::NodeProto &node : graph.node())
    for (const std::string &output : node.output())
      defined.insert(output);
  for (const onnx::NodeProto &node : graph.node())
    collectReads(node, inner);
  for (const onnx::ValueInfoProto &output : graph.output())
    inner.insert(output.name());
  for (const auto &name : inner)
    if (!name.getKey().empty() && !defined.contains(name.getKey()))
      reads.insert(name.getKey());
}

void mlir::qllm::onnx_import::collectReads(const onnx::NodeProto &node,
                                           llvm::StringSet<> &reads) {
  for (const std::string &input : node.input())
    if (!input.empty())
      reads.insert(input);
  for (const onnx::AttributeProto &attr : node.attribute()) {
    if (attr.has_g())
      collectCaptures(attr.g(), reads);
    for (const onnx::GraphProto &g : attr.graphs())
      collectCaptures(g, reads);
  }
}
