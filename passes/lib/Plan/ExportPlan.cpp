//===- ExportPlan.cpp - plan-ready IR to a .qplan file --------------------===//
//
// The FlatBuffer comes first and holds the weights' file offsets, which
// depend on its own size: it is built once with placeholder offsets, then
// again with the real ones. Every scalar is stored even when it equals its
// default (ForceDefaults), so the second build has the first one's size.
//
//===----------------------------------------------------------------------===//

#include "quant/Plan/ExportPlan.h"

#include "qllm/IR/QLLMOps.h"
#include "qllm/IR/Weightless.h"
#include "qrt/core/Plan.h"
#include "qrt/cuda/KernelAbi.h"
#include "quant/CodeGen/Nvrtc.h"
#include "quant/Plan/PlanInfo.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <map>
#include <thread>

using namespace mlir;
using namespace mlir::qllm;
namespace fb = qrt::fb;

namespace {

/// A weight of the plan: its bytes live in the module's resource blobs (none
/// in a weightless plan).
struct PlanWeight {
  std::string name;
  fb::DType dtype;
  SmallVector<int64_t> dims;
  ArrayRef<char> bytes;
  uint64_t size = 0;
  uint64_t checksum = 0;
  uint64_t offset = 0;
};

/// A step's buffer, independent of the FlatBuffer being built.
struct BufferDesc {
  fb::BufferKind kind;
  uint64_t offset;
  fb::DType dtype;
  SmallVector<int64_t> dims;
};

/// Fields of fb::QuantScheme.
struct QuantDesc {
  fb::QuantKind kind = fb::QuantKind::IntN;
  int64_t rows = 0, cols = 0;
  int32_t bits = 0;
  int64_t group_size = 0;
  bool symmetric = false, act_order = false;
  fb::DType scale_type = fb::DType::F32;
  bool double_quant = false;
  int64_t double_quant_block_size = 0;
};

/// Fields of fb::CudaLaunch.
struct LaunchDesc {
  std::string function;
  uint32_t gridX = 1, tokensPerBlock = 0, blockX = 32, sharedBytes = 0;
  /// The launch's own buffers (a fused epilogue), if any.
  std::optional<SmallVector<BufferDesc>> buffers;
};

struct StepDesc {
  fb::Kernel kernel;
  SmallVector<BufferDesc> inputs, outputs;
  std::string name;
  float epsilon = 0, scale = 0, rotaryBase = 0;
  bool causal = false;
  int32_t layer = 0, heads = 0, kvHeads = 0, headDim = 0, rotaryDim = 0;
  fb::RotaryConvention convention = fb::RotaryConvention::Interleaved;
  /// DequantMatMul: the weight's scheme.
  std::optional<QuantDesc> quant;
  /// The CUDA launches (when the module has generated CUDA).
  std::optional<std::vector<LaunchDesc>> cuda;
};

struct EntryDesc {
  std::string name;
  int32_t maxTokens = 0;
  uint64_t arenaBytes = 0;
  std::vector<StepDesc> steps;
  BufferDesc logits;
};

/// What the runtime needs to know about the model.
struct ModelDesc {
  int32_t dim = 0, hiddenDim = 0, layers = 0, heads = 0, kvHeads = 0,
          headDim = 0, vocab = 0, maxContext = 0, bos = 0, eos = 0;
  std::string tokenizer, source;
};

/// The op's name in the source model, from its location.
std::string locationName(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().str();
  if (auto fused = dyn_cast<FusedLoc>(loc)) {
    std::string names;
    for (Location part : fused.getLocations()) {
      std::string n = locationName(part);
      if (!n.empty())
        names += (names.empty() ? "" : "+") + n;
    }
    return names;
  }
  if (auto file = dyn_cast<FileLineColLoc>(loc))
    return (file.getFilename().getValue() + ":" + Twine(file.getLine())).str();
  return {};
}

class PlanExporter {
public:
  PlanExporter(ModuleOp module, const ExportPlanOptions &options)
      : module(module), options(options) {}

  LogicalResult collect();
  /// Compiles generated code (NVRTC), if the module has any.
  LogicalResult compile() {
    return cudaSource.empty() ? success() : compileCuda();
  }
  LogicalResult write(llvm::raw_ostream &os);

private:
  FailureOr<BufferDesc> describe(Value value, Operation *user);
  FailureOr<StepDesc> describeStep(Operation *op, StringRef kernel);
  LogicalResult describeLaunches(Operation *op, StepDesc &step);
  LogicalResult compileCuda();
  LogicalResult collectEntry(func::FuncOp func);
  flatbuffers::Offset<fb::Plan> build(flatbuffers::FlatBufferBuilder &fbb,
                                      uint64_t weightsOffset,
                                      uint64_t weightsSize);
  uint64_t layOutWeights(uint64_t begin);

  ModuleOp module;
  ExportPlanOptions options;
  std::vector<PlanWeight> weights;
  std::map<const void *, uint32_t> weightIndex; // by resource blob
  std::vector<EntryDesc> entries;
  ModelDesc model;
  /// Generated CUDA: the source and what NVRTC made of it.
  std::string cudaSource;
  std::vector<std::string> cudaKernels;
  std::vector<cuda::CompiledCode> cudaCode;
  int64_t batch = 1;
  std::unique_ptr<PlanShapes> shapes;
};

fb::DType dtypeOf(Type element) {
  if (element.isF16())
    return fb::DType::F16;
  if (element.isBF16())
    return fb::DType::BF16;
  if (element.isInteger(32))
    return fb::DType::I32;
  if (element.isInteger(64))
    return fb::DType::I64;
  if (element.isInteger(8))
    return fb::DType::U8;
  return fb::DType::F32;
}

fb::DType scaleDType(::qrt::ScaleType type) {
  switch (type) {
  case ::qrt::ScaleType::F32:
    return fb::DType::F32;
  case ::qrt::ScaleType::F16:
    return fb::DType::F16;
  case ::qrt::ScaleType::BF16:
    return fb::DType::BF16;
  }
  return fb::DType::F32;
}

FailureOr<BufferDesc> PlanExporter::describe(Value value, Operation *user) {
  if (Operation *weightOp = weightOf(value)) {
    auto weight = cast<WeightOp>(weightOp);
    auto resource = dyn_cast<DenseResourceElementsAttr>(weight.getValue());
    AsmResourceBlob *blob =
        resource ? resource.getRawHandle().getBlob() : nullptr;
    auto type = cast<RankedTensorType>(weight.getType());
    if (!blob && !options.weightless)
      return user->emitError()
             << "reads weight '" << weight.getName() << "' that has no data";
    bool component = isa<QuantizedWeightOp>(user);
    if (!component && !type.getElementType().isF32() &&
        !type.getElementType().isF16())
      return user->emitError()
             << "reads weight '" << weight.getName() << "' stored as "
             << type.getElementType() << "; plans store f32 or f16";
    const void *key = resource.getRawHandle().getResource();
    auto [it, inserted] = weightIndex.try_emplace(key, weights.size());
    if (inserted) {
      PlanWeight w;
      w.name = weight.getName().str();
      w.dtype = dtypeOf(type.getElementType());
      w.dims.assign(type.getShape().begin(), type.getShape().end());
      uint64_t expected = static_cast<uint64_t>(type.getNumElements()) *
                          (type.getElementTypeBitWidth() / 8);
      w.size = expected;
      if (options.weightless) { // no bytes: nothing to check or share
        weights.push_back(std::move(w));
        return BufferDesc{fb::BufferKind::Weight, it->second,
                          weights.back().dtype, weights.back().dims};
      }
      w.bytes = blob->getData();
      if (w.bytes.size() != expected)
        return user->emitError()
               << "weight '" << weight.getName() << "' holds " << w.bytes.size()
               << " bytes, its type " << expected;
      w.checksum = qrt::checksum64(w.bytes.data(), w.bytes.size());
      // Tied weights (an LM head that is the embedding table) are exported
      // as two initializers: store identical bytes once.
      for (auto [i, other] : llvm::enumerate(weights))
        if (other.dtype == w.dtype && other.dims == w.dims &&
            other.checksum == w.checksum && other.bytes == w.bytes) {
          it->second = i;
          return BufferDesc{fb::BufferKind::Weight, i, w.dtype, w.dims};
        }
      weights.push_back(std::move(w));
    }
    const PlanWeight &w = weights[it->second];
    return BufferDesc{fb::BufferKind::Weight, it->second, w.dtype, w.dims};
  }
  if (auto arg = dyn_cast<BlockArgument>(value)) {
    auto func = cast<func::FuncOp>(arg.getOwner()->getParentOp());
    auto role =
        func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "qllm.role");
    if (role && role.getValue() == "tokens")
      return BufferDesc{fb::BufferKind::Tokens, 0, fb::DType::I32, {kTokenDim}};
    return user->emitError() << "reads a model input the plan does not pass "
                                "to kernels";
  }
  auto result = cast<OpResult>(value);
  auto arena =
      result.getOwner()->getAttrOfType<DenseI64ArrayAttr>("qllm.arena");
  if (!arena || arena.asArrayRef()[result.getResultNumber()] < 0)
    return user->emitError() << "reads a value without an arena offset (run "
                                "quant-compile, or qllm-plan-memory)";
  FailureOr<SmallVector<int64_t>> shape = shapes->shape(value);
  if (failed(shape))
    return failure();
  return BufferDesc{fb::BufferKind::Arena,
                    static_cast<uint64_t>(arena[result.getResultNumber()]),
                    fb::DType::F32, *shape};
}

FailureOr<StepDesc> PlanExporter::describeStep(Operation *op,
                                               StringRef kernel) {
  StepDesc step;
  step.name = locationName(op->getLoc());
  SmallVector<Value> inputs;
  if (kernel == "embedding") {
    auto embedding = cast<EmbeddingOp>(op);
    step.kernel = fb::Kernel::Embedding;
    inputs = {embedding.getTable(), embedding.getIndices()};
  } else if (kernel == "rms_norm") {
    auto norm = cast<RmsNormOp>(op);
    step.kernel = fb::Kernel::RmsNorm;
    step.epsilon = norm.getEpsilon().convertToFloat();
    inputs = {norm.getInput(), norm.getWeight()};
  } else if (kernel == "matmul") {
    auto matmul = cast<MatmulOp>(op);
    step.kernel = fb::Kernel::MatMul;
    inputs = {matmul.getLhs(), matmul.getRhs()};
  } else if (kernel == "dequant_matmul") {
    auto matmul = cast<DequantMatmulOp>(op);
    auto q = matmul.getWeight().getDefiningOp<QuantizedWeightOp>();
    QTensorType type = matmul.getWeight().getType();
    step.kernel = fb::Kernel::DequantMatMul;
    QuantDesc scheme;
    scheme.rows = type.getRows();
    scheme.cols = type.getCols();
    if (auto intN = dyn_cast<IntQuantAttr>(type.getScheme())) {
      ::qrt::IntNScheme s = intN.getScheme();
      scheme.kind = fb::QuantKind::IntN;
      scheme.bits = s.bits;
      scheme.group_size = s.groupSize;
      scheme.symmetric = s.symmetric;
      scheme.act_order = s.actOrder;
      scheme.scale_type = scaleDType(s.scaleType);
    } else {
      ::qrt::NF4Scheme s = cast<NF4Attr>(type.getScheme()).getScheme();
      scheme.kind = fb::QuantKind::NF4;
      scheme.bits = 4;
      scheme.group_size = s.blockSize;
      scheme.scale_type = scaleDType(s.scaleType);
      scheme.double_quant = s.doubleQuant;
      scheme.double_quant_block_size = s.doubleQuantBlockSize;
    }
    step.quant = scheme;
    inputs = {matmul.getInput()};
    // Components in layout order: the op's operand order is that order.
    for (Value component : q->getOperands()) {
      FailureOr<BufferDesc> buffer = describe(component, q);
      if (failed(buffer))
        return failure();
      step.inputs.push_back(*buffer);
    }
    // x first: describe it now and put it in front.
    FailureOr<BufferDesc> x = describe(matmul.getInput(), op);
    if (failed(x))
      return failure();
    step.inputs.insert(step.inputs.begin(), *x);
    inputs.clear();
  } else if (kernel == "rotary") {
    auto rotary = cast<RotaryOp>(op);
    step.kernel = fb::Kernel::Rotary;
    step.convention = rotary.getConvention() == RotaryConvention::interleaved
                          ? fb::RotaryConvention::Interleaved
                          : fb::RotaryConvention::RotateHalf;
    auto type = cast<RankedTensorType>(rotary.getInput().getType());
    step.rotaryDim = rotary.getRotaryDim()
                         ? static_cast<int32_t>(*rotary.getRotaryDim())
                         : static_cast<int32_t>(type.getDimSize(3));
    inputs = {rotary.getInput()};
    if (rotary.getCosCache()) {
      inputs.push_back(rotary.getCosCache());
      inputs.push_back(rotary.getSinCache());
    } else {
      step.rotaryBase =
          rotary.getBase() ? rotary.getBase()->convertToFloat() : 10000.0f;
    }
  } else if (kernel == "attention") {
    auto attention = cast<AttentionOp>(op);
    step.kernel = fb::Kernel::Attention;
    auto q = cast<RankedTensorType>(attention.getQuery().getType());
    auto k = cast<RankedTensorType>(attention.getKey().getType());
    step.heads = static_cast<int32_t>(q.getDimSize(2));
    step.kvHeads = static_cast<int32_t>(k.getDimSize(2));
    step.headDim = static_cast<int32_t>(q.getDimSize(3));
    step.scale =
        attention.getScale()
            ? attention.getScale()->convertToFloat()
            : static_cast<float>(1.0 / std::sqrt(double(step.headDim)));
    step.causal = attention.getCausal();
    step.layer = static_cast<int32_t>(
        op->getAttrOfType<IntegerAttr>("qllm.layer").getInt());
    inputs = {attention.getQuery(), attention.getKey(), attention.getValue()};
  } else if (kernel == "add") {
    step.kernel = fb::Kernel::Add;
    inputs = {op->getOperand(0), op->getOperand(1)};
  } else if (kernel == "swiglu") {
    step.kernel = fb::Kernel::SwiGlu;
    inputs = {op->getOperand(0), op->getOperand(1)};
  } else {
    return op->emitError() << "has kernel '" << kernel
                           << "' that plans do not know";
  }
  for (Value input : inputs) {
    FailureOr<BufferDesc> buffer = describe(input, op);
    if (failed(buffer))
      return failure();
    step.inputs.push_back(*buffer);
  }
  FailureOr<BufferDesc> output = describe(op->getResult(0), op);
  if (failed(output))
    return failure();
  step.outputs.push_back(*output);
  if (failed(describeLaunches(op, step)))
    return failure();
  return step;
}

LogicalResult PlanExporter::describeLaunches(Operation *op, StepDesc &step) {
  auto launches = op->getAttrOfType<ArrayAttr>("qllm.cuda");
  if (cudaSource.empty())
    return success();
  if (!launches)
    return op->emitError() << "has no CUDA launch (run qllm-generate-cuda)";
  step.cuda.emplace();
  for (Attribute attr : launches) {
    auto dict = dyn_cast<DictionaryAttr>(attr);
    auto function = dict ? dict.getAs<StringAttr>("function") : StringAttr();
    if (!function)
      return op->emitError() << "has a malformed qllm.cuda launch";
    LaunchDesc launch;
    launch.function = function.getValue().str();
    auto field = [&](StringRef name) -> uint32_t {
      auto value = dict.getAs<IntegerAttr>(name);
      return value ? static_cast<uint32_t>(value.getInt()) : 0;
    };
    launch.gridX = field("grid_x");
    launch.tokensPerBlock = field("tokens_per_block");
    launch.blockX = field("block_x");
    launch.sharedBytes = field("shared_bytes");
    if (dict.get("fused_add")) {
      // x @ w^T + residual into the add's buffer: the step's inputs, then
      // the add's other operand and its result.
      Value product = op->getResult(0);
      if (!product.hasOneUse() || !isa<AddOp>(*product.getUsers().begin()))
        return op->emitError() << "has a fused add but its product is not "
                                  "read by one add";
      auto add = cast<AddOp>(*product.getUsers().begin());
      Value residual = add.getLhs() == product ? add.getRhs() : add.getLhs();
      SmallVector<BufferDesc> buffers(step.inputs.begin(), step.inputs.end());
      for (Value v : {residual, Value(add.getResult())}) {
        FailureOr<BufferDesc> buffer = describe(v, add);
        if (failed(buffer))
          return failure();
        buffers.push_back(*buffer);
      }
      launch.buffers = std::move(buffers);
    }
    size_t count = launch.buffers ? launch.buffers->size()
                                  : step.inputs.size() + step.outputs.size();
    if (count > static_cast<size_t>(qrt::cuda::kMaxKernelBuffers))
      return op->emitError()
             << "passes " << count << " buffers to a CUDA kernel (at most "
             << qrt::cuda::kMaxKernelBuffers << ")";
    step.cuda->push_back(std::move(launch));
  }
  return success();
}

LogicalResult PlanExporter::compileCuda() {
  std::string error;
  const cuda::Nvrtc *nvrtc = cuda::Nvrtc::get(error);
  if (!nvrtc)
    return mlir::emitError(module.getLoc())
           << "cannot compile the generated CUDA kernels: " << error;
  // PTX for compute_80 (the driver JITs it for any later GPU) and cubins
  // for A100 and H100, compiled in parallel.
  const std::vector<std::string> archs = {"compute_80", "sm_80", "sm_90"};
  std::vector<cuda::CompiledCode> code(archs.size());
  std::vector<std::string> errors(archs.size());
  std::vector<char> ok(archs.size(), 0);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < archs.size(); ++i)
    threads.emplace_back([&, i] {
      ok[i] = nvrtc->compile(cudaSource, archs[i], code[i], errors[i]);
    });
  for (std::thread &t : threads)
    t.join();
  for (size_t i = 0; i < archs.size(); ++i)
    if (!ok[i])
      return mlir::emitError(module.getLoc()) << errors[i];
  cudaCode = std::move(code);
  return success();
}

LogicalResult PlanExporter::collectEntry(func::FuncOp func) {
  EntryDesc entry;
  entry.name = func.getSymName().str();
  auto attrs = func->getAttrOfType<DictionaryAttr>("qllm.entry");
  entry.maxTokens =
      static_cast<int32_t>(cast<IntegerAttr>(attrs.get("max_tokens")).getInt());
  auto arenaBytes = func->getAttrOfType<IntegerAttr>("qllm.arena_bytes");
  if (!arenaBytes)
    return func.emitError() << "has no arena (run quant-compile, or "
                               "qllm-plan-memory)";
  entry.arenaBytes = static_cast<uint64_t>(arenaBytes.getInt());
  shapes = std::make_unique<PlanShapes>(batch);

  for (Operation &op : func.getBody().front()) {
    if (isa<func::ReturnOp>(op))
      continue;
    StringRef kernel = kernelOf(&op);
    if (kernel.empty())
      return op.emitError() << "has no kernel (run quant-compile, or "
                               "qllm-select-kernels)";
    if (kernel == "weight" || kernel == "constant" || kernel == "view")
      continue;
    FailureOr<StepDesc> step = describeStep(&op, kernel);
    if (failed(step))
      return failure();
    entry.steps.push_back(std::move(*step));
  }

  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  bool found = false;
  for (auto [i, value] : llvm::enumerate(ret.getOperands())) {
    auto role = func.getResultAttrOfType<StringAttr>(i, "qllm.role");
    if (!role || role.getValue() != "logits")
      continue;
    FailureOr<BufferDesc> logits = describe(value, ret);
    if (failed(logits))
      return failure();
    entry.logits = *logits;
    found = true;
  }
  if (!found)
    return func.emitError() << "returns no logits";
  entries.push_back(std::move(entry));
  return success();
}

LogicalResult PlanExporter::collect() {
  if (auto source = module->getAttrOfType<StringAttr>("qllm.cuda_source")) {
    cudaSource = source.getValue().str();
    if (auto names = module->getAttrOfType<ArrayAttr>("qllm.cuda_kernels"))
      for (Attribute name : names)
        if (auto s = dyn_cast<StringAttr>(name))
          cudaKernels.push_back(s.getValue().str());
  }
  auto plan = module->getAttrOfType<DictionaryAttr>("qllm.plan");
  if (!plan)
    return mlir::emitError(module.getLoc())
           << "the module is not compiled for the runtime (run "
              "quant-compile first)";
  auto intOf = [&](StringRef name) {
    auto attr = plan.getAs<IntegerAttr>(name);
    return attr ? attr.getInt() : 0;
  };
  batch = intOf("batch");
  model.maxContext = static_cast<int32_t>(intOf("max_context"));
  model.bos = static_cast<int32_t>(intOf("bos"));
  model.eos = static_cast<int32_t>(intOf("eos"));
  if (auto tokenizer = plan.getAs<StringAttr>("tokenizer"))
    model.tokenizer = tokenizer.getValue().str();
  if (auto source = module->getAttrOfType<StringAttr>("qllm.source"))
    model.source = source.getValue().str();

  for (auto func : module.getOps<func::FuncOp>())
    if (func->hasAttr("qllm.entry"))
      if (failed(collectEntry(func)))
        return failure();
  if (entries.empty())
    return mlir::emitError(module.getLoc())
           << "the module has no entry points (run quant-compile)";

  // The model's dimensions, from the first entry's ops.
  func::FuncOp first =
      *llvm::find_if(module.getOps<func::FuncOp>(),
                     [](auto f) { return f->hasAttr("qllm.entry"); });
  int32_t layers = 0;
  first.walk([&](Operation *op) {
    if (auto embedding = dyn_cast<EmbeddingOp>(op))
      model.dim = static_cast<int32_t>(
          cast<RankedTensorType>(embedding.getType()).getShape().back());
    if (auto swiglu = dyn_cast<SwiGluOp>(op))
      model.hiddenDim =
          static_cast<int32_t>(swiglu.getType().getShape().back());
    if (auto attention = dyn_cast<AttentionOp>(op)) {
      auto q = cast<RankedTensorType>(attention.getQuery().getType());
      auto k = cast<RankedTensorType>(attention.getKey().getType());
      model.heads = static_cast<int32_t>(q.getDimSize(2));
      model.kvHeads = static_cast<int32_t>(k.getDimSize(2));
      model.headDim = static_cast<int32_t>(q.getDimSize(3));
      layers = std::max<int32_t>(
          layers, op->getAttrOfType<IntegerAttr>("qllm.layer").getInt() + 1);
    }
  });
  model.layers = layers;
  model.vocab = static_cast<int32_t>(entries.front().logits.dims.back());
  for (const EntryDesc &entry : entries)
    for (const StepDesc &step : entry.steps)
      if (step.kernel == fb::Kernel::Attention &&
          (step.kvHeads != model.kvHeads || step.headDim != model.headDim))
        return mlir::emitError(module.getLoc())
               << "the model has layers with different KV head shapes; the KV "
                  "cache "
                  "holds one shape";
  return success();
}

flatbuffers::Offset<fb::Plan>
PlanExporter::build(flatbuffers::FlatBufferBuilder &fbb, uint64_t weightsOffset,
                    uint64_t weightsSize) {
  auto tensor = [&](fb::DType dtype, ArrayRef<int64_t> dims) {
    std::vector<int64_t> d(dims.begin(), dims.end());
    return fb::CreateTensorInfo(fbb, dtype, fbb.CreateVector(d));
  };
  auto buffer = [&](const BufferDesc &b) {
    auto t = tensor(b.dtype, b.dims);
    return fb::CreateBuffer(fbb, b.kind, b.offset, t);
  };
  auto buffers = [&](ArrayRef<BufferDesc> list) {
    std::vector<flatbuffers::Offset<fb::Buffer>> out;
    for (const BufferDesc &b : list)
      out.push_back(buffer(b));
    return fbb.CreateVector(out);
  };

  std::vector<flatbuffers::Offset<fb::WeightInfo>> weightInfos;
  for (const PlanWeight &w : weights) {
    auto name = fbb.CreateString(w.name);
    auto t = tensor(w.dtype, w.dims);
    weightInfos.push_back(
        fb::CreateWeightInfo(fbb, name, t, w.offset, w.size, w.checksum));
  }
  auto weightVector = fbb.CreateVector(weightInfos);

  std::vector<flatbuffers::Offset<fb::Entry>> entryOffsets;
  for (const EntryDesc &entry : entries) {
    std::vector<flatbuffers::Offset<fb::Step>> steps;
    for (const StepDesc &s : entry.steps) {
      auto inputs = buffers(s.inputs);
      auto outputs = buffers(s.outputs);
      auto name = fbb.CreateString(s.name);
      flatbuffers::Offset<fb::QuantScheme> quant;
      if (const std::optional<QuantDesc> &q = s.quant)
        quant = fb::CreateQuantScheme(fbb, q->kind, q->rows, q->cols, q->bits,
                                      q->group_size, q->symmetric, q->act_order,
                                      q->scale_type, q->double_quant,
                                      q->double_quant_block_size);
      flatbuffers::Offset<
          flatbuffers::Vector<flatbuffers::Offset<fb::CudaLaunch>>>
          cudaLaunches;
      if (s.cuda) {
        std::vector<flatbuffers::Offset<fb::CudaLaunch>> launches;
        for (const LaunchDesc &l : *s.cuda) {
          auto function = fbb.CreateString(l.function);
          flatbuffers::Offset<
              flatbuffers::Vector<flatbuffers::Offset<fb::Buffer>>>
              own;
          if (l.buffers)
            own = buffers(*l.buffers);
          launches.push_back(fb::CreateCudaLaunch(fbb, function, l.gridX,
                                                  l.tokensPerBlock, l.blockX,
                                                  l.sharedBytes, own));
        }
        cudaLaunches = fbb.CreateVector(launches);
      }
      steps.push_back(fb::CreateStep(
          fbb, s.kernel, inputs, outputs, name, s.epsilon, s.scale, s.causal,
          s.layer, s.heads, s.kvHeads, s.headDim, s.convention, s.rotaryDim,
          s.rotaryBase, quant, cudaLaunches));
    }
    auto stepVector = fbb.CreateVector(steps);
    auto name = fbb.CreateString(entry.name);
    auto logits = buffer(entry.logits);
    entryOffsets.push_back(fb::CreateEntry(
        fbb, name, entry.maxTokens, entry.arenaBytes, stepVector, logits));
  }
  auto entryVector = fbb.CreateVector(entryOffsets);

  auto modelInfo = fb::CreateModelInfo(
      fbb, fbb.CreateString("llama"), model.dim, model.hiddenDim, model.layers,
      model.heads, model.kvHeads, model.headDim, model.vocab, model.maxContext,
      model.bos, model.eos, fbb.CreateString(model.tokenizer),
      fbb.CreateString(model.source));
  auto cache =
      fb::CreateKvCache(fbb, model.layers, model.kvHeads, model.headDim,
                        model.maxContext, fb::DType::F32);
  std::vector<flatbuffers::Offset<fb::TargetCode>> targetCode;
  if (!cudaSource.empty()) {
    auto kernelNames = [&] {
      std::vector<flatbuffers::Offset<flatbuffers::String>> names;
      for (const std::string &n : cudaKernels)
        names.push_back(fbb.CreateString(n));
      return fbb.CreateVector(names);
    };
    auto bytes = [&](const char *data, size_t size) {
      return fbb.CreateVector(reinterpret_cast<const uint8_t *>(data), size);
    };
    targetCode.push_back(fb::CreateTargetCode(
        fbb, fbb.CreateString("cuda"), fbb.CreateString("cuda-source"),
        bytes(cudaSource.data(), cudaSource.size()), fbb.CreateString(""),
        kernelNames()));
    for (const cuda::CompiledCode &c : cudaCode)
      targetCode.push_back(fb::CreateTargetCode(
          fbb, fbb.CreateString("cuda"), fbb.CreateString(c.format),
          bytes(c.code.data(), c.code.size()), fbb.CreateString(c.arch),
          kernelNames()));
  }
  auto targets = fbb.CreateVector(targetCode);
  auto producer = fbb.CreateString("quant-opt");
  return fb::CreatePlan(fbb, qrt::kPlanVersion, producer, modelInfo,
                        weightVector, entryVector, cache, targets,
                        weightsOffset, weightsSize, options.weightless,
                        options.weightless ? options.weightSeed : 0);
}

/// Gives each weight its file offset from `begin` on, 64-byte aligned, and
/// returns the end of the last one. A weightless plan stores no bytes: every
/// offset is 0 and the region is empty.
uint64_t PlanExporter::layOutWeights(uint64_t begin) {
  uint64_t offset = begin, end = begin;
  for (PlanWeight &w : weights) {
    if (options.weightless) {
      w.offset = 0;
      continue;
    }
    w.offset = offset;
    end = offset + w.size;
    offset = (end + qrt::kWeightAlignment - 1) / qrt::kWeightAlignment *
             qrt::kWeightAlignment;
  }
  return end;
}

LogicalResult PlanExporter::write(llvm::raw_ostream &os) {
  auto align = [](uint64_t v) {
    return (v + qrt::kWeightAlignment - 1) / qrt::kWeightAlignment *
           qrt::kWeightAlignment;
  };
  // Lay out the weights after a FlatBuffer of the size the last build had,
  // until the size no longer changes (it cannot after the first rebuild:
  // every scalar is stored, and offsets only change values).
  uint64_t headerSize = 0;
  std::unique_ptr<flatbuffers::FlatBufferBuilder> fbb;
  uint64_t weightsOffset = 0, weightsEnd = 0;
  for (int attempt = 0; attempt < 4; ++attempt) {
    weightsOffset = align(headerSize);
    weightsEnd = layOutWeights(weightsOffset);
    fbb = std::make_unique<flatbuffers::FlatBufferBuilder>(1 << 16);
    fbb->ForceDefaults(true);
    fb::FinishSizePrefixedPlanBuffer(
        *fbb, build(*fbb, weightsOffset, weightsEnd - weightsOffset));
    if (fbb->GetSize() == headerSize)
      break;
    headerSize = fbb->GetSize();
  }
  if (fbb->GetSize() != headerSize)
    return mlir::emitError(module.getLoc()) << "plan layout did not converge";

  os.write(reinterpret_cast<const char *>(fbb->GetBufferPointer()),
           fbb->GetSize());
  uint64_t position = fbb->GetSize();
  auto pad = [&](uint64_t to) {
    static const char zeros[qrt::kWeightAlignment] = {};
    while (position < to) {
      uint64_t n = std::min<uint64_t>(to - position, sizeof(zeros));
      os.write(zeros, n);
      position += n;
    }
  };
  for (const PlanWeight &w : weights) {
    pad(w.offset);
    os.write(w.bytes.data(), w.bytes.size());
    position += w.bytes.size();
  }
  pad(weightsOffset); // a plan without weights still has its region start
  os.flush();
  return success();
}

} // namespace

LogicalResult mlir::qllm::exportPlan(ModuleOp module, llvm::raw_ostream &os,
                                     const ExportPlanOptions &options) {
  if (isWeightless(module) && !options.weightless)
    return mlir::emitError(module.getLoc())
           << "the module is weightless (imported with --weightless): its "
              "weights have no values; export it as a weightless plan "
              "(--weightless)";
  PlanExporter exporter(module, options);
  if (failed(exporter.collect()) || failed(exporter.compile()))
    return failure();
  return exporter.write(os);
}
