//===- ExportPlan.cpp - plan-ready IR to a .qplan file --------------------===//
//
// A walk over verified plan-ready IR that fills the runtime's plan
// description (qrt/core/PlanWriter.h): the model, the weights (each distinct
// blob once), per entry its steps (one per op with a qllm.kernel, their
// buffers and parameters) and logits, then each target's code. The runtime's
// writer lays out the file. Everything the IR's verifier does not already
// guarantee is checked here with an error at the op.
//
//===----------------------------------------------------------------------===//

#include "quant/Plan/ExportPlan.h"

#include "qllm/IR/QLLMOps.h"
#include "qllm/IR/QLLMPlanAttrs.h"
#include "qllm/IR/Weightless.h"
#include "qrt/core/PlanWriter.h"
#include "quant/Plan/PlanInfo.h"
#include "quant/Plan/TargetExport.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstring>
#include <map>

using namespace mlir;
using namespace mlir::qllm;
namespace fb = qrt::fb;

// The dialect's kernel enum mirrors the schema's one to one.
#define QUANT_SAME_KERNEL(dialect, schema)                                     \
  static_assert(static_cast<int>(Kernel::dialect) ==                           \
                    static_cast<int>(fb::Kernel::schema),                      \
                "qllm::Kernel::" #dialect " != fb::Kernel::" #schema);
QUANT_SAME_KERNEL(embedding, Embedding)
QUANT_SAME_KERNEL(rms_norm, RmsNorm)
QUANT_SAME_KERNEL(matmul, MatMul)
QUANT_SAME_KERNEL(rotary, Rotary)
QUANT_SAME_KERNEL(attention, Attention)
QUANT_SAME_KERNEL(add, Add)
QUANT_SAME_KERNEL(swiglu, SwiGlu)
QUANT_SAME_KERNEL(dequant_matmul, DequantMatMul)
QUANT_SAME_KERNEL(gather, Gather)
QUANT_SAME_KERNEL(int8_matmul, Int8MatMul)
QUANT_SAME_KERNEL(all_reduce, AllReduce)
QUANT_SAME_KERNEL(all_gather, AllGather)
static_assert(static_cast<int>(fb::Kernel::MAX) == 11,
              "the plan schema has a kernel the dialect does not");
#undef QUANT_SAME_KERNEL

namespace {

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

/// The plan type of an element type, or nullopt for one plans cannot hold.
std::optional<fb::DType> planType(Type element) {
  if (element.isF32())
    return fb::DType::F32;
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
  return std::nullopt;
}

std::vector<int64_t> dimsOf(ArrayRef<int64_t> shape) {
  return std::vector<int64_t>(shape.begin(), shape.end());
}

class PlanExporter {
public:
  PlanExporter(ModuleOp module, const ExportPlanOptions &options)
      : module(module), options(options) {
    plan.producer = "quant-opt";
    plan.weightless = options.weightless;
    plan.weightSeed = options.weightless ? options.weightSeed : 0;
  }

  /// The plan description, targets included.
  LogicalResult collect();
  const qrt::PlanDesc &description() const { return plan; }

private:
  LogicalResult collectPlanParameters();
  LogicalResult collectEntry(func::FuncOp func);
  LogicalResult collectModel();
  LogicalResult collectTargets();

  FailureOr<qrt::BufferDesc> describe(Value value, Operation *user);
  FailureOr<qrt::BufferDesc> describeWeight(WeightOp weight, Operation *user);
  /// The index of the weight holding `value` (a value of `weight`), added
  /// unless a weight with the same blob or bytes is there.
  FailureOr<uint32_t> addWeight(WeightOp weight, ElementsAttr value,
                                fb::DType dtype, Operation *user,
                                const std::string &suffix);
  /// Tensor parallel: the weight maps of the ranks.
  LogicalResult collectSharding();
  FailureOr<qrt::StepDesc> describeStep(Operation *op, Kernel kernel);
  /// The kernel's parameters, and the values it reads in the schema's order.
  FailureOr<SmallVector<Value>> stepParameters(Operation *op, Kernel kernel,
                                               qrt::StepDesc &step);
  LogicalResult quantizedInputs(DequantMatmulOp matmul, qrt::StepDesc &step);

  ModuleOp module;
  ExportPlanOptions options;
  qrt::PlanDesc plan;
  std::map<const void *, uint32_t> weightIndex; // by resource
  int64_t batch = 1;
  int64_t worldSize = 1;
  /// Sharded weights: per rank-0 index, every rank's weight index.
  std::map<uint32_t, std::vector<uint32_t>> rankWeights;
  /// The entry being described (its shapes).
  PlanShapes *shapes = nullptr;
  /// Per entry, the ops that became its steps (for the targets).
  std::vector<SmallVector<Operation *>> stepOps;
};

FailureOr<qrt::BufferDesc> PlanExporter::describeWeight(WeightOp weight,
                                                        Operation *user) {
  auto type = cast<RankedTensorType>(weight.getType());
  std::optional<fb::DType> dtype = planType(type.getElementType());
  if (!type.hasStaticShape() || !dtype)
    return user->emitError() << "reads weight '" << weight.getName()
                             << "' of type " << type
                             << ", which plans cannot store";
  // Components of quantized weights and gather indices have their own
  // types; other weights are f32 or f16.
  bool ownType = isa<QuantizedWeightOp>(user) ||
                 (isa<GatherOp>(user) && *dtype == fb::DType::I32);
  if (!ownType && *dtype != fb::DType::F32 && *dtype != fb::DType::F16)
    return user->emitError()
           << "reads weight '" << weight.getName() << "' stored as "
           << type.getElementType() << "; plans store f32 or f16";
  auto shards = weight->getAttrOfType<ArrayAttr>(kShardsAttrName);
  FailureOr<uint32_t> index = addWeight(weight, weight.getValue(), *dtype,
                                        user, shards ? "@rank0" : "");
  if (failed(index))
    return failure();
  // Tensor parallel: the other ranks' values of the weight.
  if (shards) {
    if (static_cast<int64_t>(shards.size()) != worldSize)
      return weight.emitError()
             << "has " << shards.size() << " rank values; the plan has "
             << worldSize << " ranks";
    std::vector<uint32_t> ranks = {*index};
    for (auto [r, shard] : llvm::enumerate(shards.getValue().drop_front())) {
      FailureOr<uint32_t> other =
          addWeight(weight, cast<ElementsAttr>(shard), *dtype, user,
                    "@rank" + std::to_string(r + 1));
      if (failed(other))
        return failure();
      ranks.push_back(*other);
    }
    rankWeights[*index] = std::move(ranks);
  }
  const qrt::WeightDesc &stored = plan.weights[*index];
  return qrt::BufferDesc{fb::BufferKind::Weight, *index, stored.dtype,
                         stored.dims};
}

FailureOr<uint32_t> PlanExporter::addWeight(WeightOp weight,
                                            ElementsAttr value,
                                            fb::DType dtype, Operation *user,
                                            const std::string &suffix) {
  auto type = cast<RankedTensorType>(weight.getType());
  auto resource = dyn_cast<DenseResourceElementsAttr>(value);
  if (!resource)
    return user->emitError() << "reads weight '" << weight.getName()
                             << "' whose value is not a dense_resource blob";
  AsmResourceBlob *blob = resource.getRawHandle().getBlob();
  if (!blob && !options.weightless)
    return user->emitError()
           << "reads weight '" << weight.getName() << "' that has no data";
  const void *key = resource.getRawHandle().getResource();
  auto found = weightIndex.find(key);
  if (found != weightIndex.end()) {
    const qrt::WeightDesc &w = plan.weights[found->second];
    if (w.dtype != dtype || w.dims != dimsOf(type.getShape()))
      return user->emitError() << "reads weight '" << weight.getName()
                               << "' as another type than its blob's";
    return found->second;
  }
  qrt::WeightDesc w;
  w.name = weight.getName().str() + suffix;
  w.dtype = dtype;
  w.dims = dimsOf(type.getShape());
  uint64_t expected =
      static_cast<uint64_t>(type.getNumElements()) * qrt::dtypeBytes(dtype);
  w.size = expected;
  uint32_t index = static_cast<uint32_t>(plan.weights.size());
  if (!options.weightless) { // a weightless plan has no bytes to share
    ArrayRef<char> bytes = blob->getData();
    if (bytes.size() != expected)
      return user->emitError()
             << "weight '" << weight.getName() << "' holds " << bytes.size()
             << " bytes, its type " << expected;
    w.external = bytes.data();
    w.checksum = qrt::checksum64(bytes.data(), bytes.size());
    // Tied weights (an LM head that is the embedding table) are exported
    // as two initializers, and ranks may hold the same slice (replicated
    // KV heads): store identical bytes once.
    for (auto [i, other] : llvm::enumerate(plan.weights))
      if (other.dtype == w.dtype && other.dims == w.dims &&
          other.checksum == w.checksum &&
          std::memcmp(other.data(), w.data(), expected) == 0) {
        index = static_cast<uint32_t>(i);
        break;
      }
  }
  if (index == plan.weights.size())
    plan.weights.push_back(std::move(w));
  weightIndex[key] = index;
  return index;
}

FailureOr<qrt::BufferDesc> PlanExporter::describe(Value value,
                                                  Operation *user) {
  if (Operation *weight = weightOf(value))
    return describeWeight(cast<WeightOp>(weight), user);
  if (auto arg = dyn_cast<BlockArgument>(value)) {
    auto func = dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp());
    auto role = func ? func.getArgAttrOfType<RoleAttr>(arg.getArgNumber(),
                                                       kRoleAttrName)
                     : RoleAttr();
    if (role && role.getRole() == InterfaceRole::tokens)
      return qrt::BufferDesc{
          fb::BufferKind::Tokens, 0, fb::DType::I32, {kTokenDim}};
    return user->emitError() << "reads a model input the plan does not pass "
                                "to kernels";
  }
  auto result = cast<OpResult>(value);
  ArenaAttr arena = getArena(result.getOwner());
  if (!arena || arena.getOffsets()[result.getResultNumber()] < 0)
    return user->emitError() << "reads a value without an arena offset (run "
                                "quant-compile, or qllm-plan-memory)";
  FailureOr<SmallVector<int64_t>> shape = shapes->shape(value);
  if (failed(shape))
    return failure();
  return qrt::BufferDesc{
      fb::BufferKind::Arena,
      static_cast<uint64_t>(arena.getOffsets()[result.getResultNumber()]),
      fb::DType::F32, dimsOf(*shape)};
}

LogicalResult PlanExporter::quantizedInputs(DequantMatmulOp matmul,
                                            qrt::StepDesc &step) {
  auto q = matmul.getWeight().getDefiningOp<QuantizedWeightOp>();
  if (!q)
    return matmul.emitError() << "reads a quantized weight that is not a "
                                 "qllm.quantized_weight of stored components";
  QTensorType type = matmul.getWeight().getType();
  if (auto intN = dyn_cast<IntQuantAttr>(type.getScheme()))
    step.quant =
        qrt::QuantDesc::of(intN.getScheme(), type.getRows(), type.getCols());
  else if (std::optional<qrt::Float4Scheme> float4 =
               float4SchemeOf(type.getScheme()))
    step.quant = qrt::QuantDesc::of(*float4, type.getRows(), type.getCols());
  else
    return matmul.emitError() << "has a quantization scheme plans do not "
                                 "know";
  // x, then the components in layout order (the op's operand order).
  FailureOr<qrt::BufferDesc> x = describe(matmul.getInput(), matmul);
  if (failed(x))
    return failure();
  step.inputs.push_back(*x);
  for (Value component : q->getOperands()) {
    if (!weightOf(component))
      return q.emitError() << "has a component that is not a stored weight";
    FailureOr<qrt::BufferDesc> buffer = describe(component, q);
    if (failed(buffer))
      return failure();
    step.inputs.push_back(*buffer);
  }
  return success();
}

FailureOr<SmallVector<Value>>
PlanExporter::stepParameters(Operation *op, Kernel kernel,
                             qrt::StepDesc &step) {
  switch (kernel) {
  case Kernel::embedding: {
    auto embedding = cast<EmbeddingOp>(op);
    return SmallVector<Value>{embedding.getTable(), embedding.getIndices()};
  }
  case Kernel::rms_norm: {
    auto norm = cast<RmsNormOp>(op);
    step.epsilon = norm.getEpsilon().convertToFloat();
    return SmallVector<Value>{norm.getInput(), norm.getWeight()};
  }
  case Kernel::matmul: {
    auto matmul = cast<MatmulOp>(op);
    return SmallVector<Value>{matmul.getLhs(), matmul.getRhs()};
  }
  case Kernel::dequant_matmul:
  case Kernel::int8_matmul: {
    auto matmul = cast<DequantMatmulOp>(op);
    if (std::optional<APFloat> threshold = matmul.getOutlierThreshold())
      step.outlierThreshold = threshold->convertToFloat();
    step.int8Activations = matmul.getInt8Activations();
    if (failed(quantizedInputs(matmul, step)))
      return failure();
    return SmallVector<Value>{};
  }
  case Kernel::rotary: {
    auto rotary = cast<RotaryOp>(op);
    step.convention = rotary.getConvention() == RotaryConvention::interleaved
                          ? fb::RotaryConvention::Interleaved
                          : fb::RotaryConvention::RotateHalf;
    auto type = cast<RankedTensorType>(rotary.getInput().getType());
    if (type.getRank() != 4)
      return op->emitError() << "rotates a value of rank " << type.getRank()
                             << "; plans rotate [1, tokens, heads, head_dim]";
    step.rotaryDim = rotary.getRotaryDim()
                         ? static_cast<int32_t>(*rotary.getRotaryDim())
                         : static_cast<int32_t>(type.getDimSize(3));
    SmallVector<Value> inputs = {rotary.getInput()};
    if (rotary.getCosCache()) {
      inputs.push_back(rotary.getCosCache());
      inputs.push_back(rotary.getSinCache());
    } else {
      step.rotaryBase =
          rotary.getBase() ? rotary.getBase()->convertToFloat() : 10000.0f;
    }
    return inputs;
  }
  case Kernel::attention: {
    auto attention = cast<AttentionOp>(op);
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
    std::optional<int64_t> layer = getLayer(op);
    if (!layer)
      return op->emitError() << "has no qllm.layer (run "
                                "qllm-specialize-entries)";
    step.layer = static_cast<int32_t>(*layer);
    return SmallVector<Value>{attention.getQuery(), attention.getKey(),
                              attention.getValue()};
  }
  case Kernel::add:
  case Kernel::swiglu:
  case Kernel::gather:
    return SmallVector<Value>{op->getOperand(0), op->getOperand(1)};
  case Kernel::all_reduce:
  case Kernel::all_gather:
    return SmallVector<Value>{op->getOperand(0)};
  }
  return op->emitError() << "has a kernel plans do not know";
}

FailureOr<qrt::StepDesc> PlanExporter::describeStep(Operation *op,
                                                    Kernel kernel) {
  qrt::StepDesc step;
  step.kernel = static_cast<fb::Kernel>(kernel);
  step.name = locationName(op->getLoc());
  FailureOr<SmallVector<Value>> inputs = stepParameters(op, kernel, step);
  if (failed(inputs))
    return failure();
  for (Value input : *inputs) {
    FailureOr<qrt::BufferDesc> buffer = describe(input, op);
    if (failed(buffer))
      return failure();
    step.inputs.push_back(*buffer);
  }
  FailureOr<qrt::BufferDesc> output = describe(op->getResult(0), op);
  if (failed(output))
    return failure();
  step.outputs.push_back(*output);
  return step;
}

LogicalResult PlanExporter::collectEntry(func::FuncOp func) {
  EntryAttr attr = getEntry(func);
  if (!attr.getArenaBytes())
    return func.emitError() << "has no arena (run quant-compile, or "
                               "qllm-plan-memory)";
  if (!func.getBody().hasOneBlock())
    return func.emitError() << "is an entry point of more than one block";
  if (attr.getMaxTokens() > plan.model.maxContext)
    return func.emitError() << "takes up to " << attr.getMaxTokens()
                            << " tokens per step, more than the KV cache's "
                            << plan.model.maxContext << " positions";
  qrt::EntryDesc entry;
  entry.name = func.getSymName().str();
  entry.maxTokens = static_cast<int32_t>(attr.getMaxTokens());
  entry.arenaBytes = static_cast<uint64_t>(*attr.getArenaBytes());
  PlanShapes entryShapes(batch);
  shapes = &entryShapes;
  SmallVector<Operation *> ops;
  for (Operation &op : func.getBody().front()) {
    if (isa<func::ReturnOp>(op) || getStorage(&op))
      continue;
    std::optional<Kernel> kernel = getKernel(&op);
    if (!kernel)
      return op.emitError() << "has no kernel (run quant-compile, or "
                               "qllm-select-kernels)";
    FailureOr<qrt::StepDesc> step = describeStep(&op, *kernel);
    if (failed(step))
      return failure();
    entry.steps.push_back(std::move(*step));
    ops.push_back(&op);
  }
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  bool found = false;
  for (auto [i, value] : llvm::enumerate(ret.getOperands())) {
    auto role = func.getResultAttrOfType<RoleAttr>(i, kRoleAttrName);
    if (!role || role.getRole() != InterfaceRole::logits)
      continue;
    if (found)
      return func.emitError() << "returns logits twice";
    FailureOr<qrt::BufferDesc> logits = describe(value, ret);
    if (failed(logits))
      return failure();
    entry.logits = *logits;
    found = true;
  }
  shapes = nullptr;
  if (!found)
    return func.emitError() << "returns no logits";
  plan.entries.push_back(std::move(entry));
  stepOps.push_back(std::move(ops));
  return success();
}

LogicalResult PlanExporter::collectPlanParameters() {
  PlanAttr attr = getPlan(module);
  if (!attr)
    return mlir::emitError(module.getLoc())
           << "the module is not compiled for the runtime (run "
              "quant-compile first)";
  batch = attr.getBatch();
  worldSize = attr.getWorldSize();
  plan.model.maxContext = static_cast<int32_t>(attr.getMaxContext());
  plan.model.bos = static_cast<int32_t>(attr.getBos());
  plan.model.eos = static_cast<int32_t>(attr.getEos());
  plan.model.tokenizer = attr.getTokenizer().str();
  if (auto source = module->getAttrOfType<StringAttr>(kSourceAttrName))
    plan.model.source = source.getValue().str();
  return success();
}

/// The model's dimensions, from the entries' ops; the KV cache they share.
LogicalResult PlanExporter::collectModel() {
  qrt::ModelDesc &model = plan.model;
  int64_t layers = 0;
  bool first = true;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (!getEntry(func))
      continue;
    WalkResult walk = func.walk([&](Operation *op) -> WalkResult {
      if (auto embedding = dyn_cast<EmbeddingOp>(op); embedding && first)
        model.dim = static_cast<int32_t>(
            cast<RankedTensorType>(embedding.getType()).getShape().back());
      if (auto swiglu = dyn_cast<SwiGluOp>(op); swiglu && first)
        model.hiddenDim =
            static_cast<int32_t>(swiglu.getType().getShape().back());
      auto attention = dyn_cast<AttentionOp>(op);
      if (!attention)
        return WalkResult::advance();
      auto q = cast<RankedTensorType>(attention.getQuery().getType());
      auto k = cast<RankedTensorType>(attention.getKey().getType());
      int32_t kvHeads = static_cast<int32_t>(k.getDimSize(2));
      int32_t headDim = static_cast<int32_t>(k.getDimSize(3));
      if (model.layers == 0 && layers == 0) {
        model.heads = static_cast<int32_t>(q.getDimSize(2));
        model.kvHeads = kvHeads;
        model.headDim = headDim;
      } else if (kvHeads != model.kvHeads || headDim != model.headDim) {
        return op->emitError() << "has another KV head shape than the "
                                  "model's other layers; the KV cache holds "
                                  "one shape";
      }
      if (std::optional<int64_t> layer = getLayer(op))
        layers = std::max(layers, *layer + 1);
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();
    first = false;
  }
  model.layers = static_cast<int32_t>(layers);
  qrt::KvCacheDesc cache;
  cache.kvHeads = model.kvHeads; // per rank: the cache each rank holds
  // A split model's description is the whole model's.
  if (auto whole = module->getAttrOfType<DictionaryAttr>(kUnshardedAttrName)) {
    auto get = [&](StringRef name, int32_t &field) {
      if (auto value = whole.getAs<IntegerAttr>(name))
        field = static_cast<int32_t>(value.getInt());
    };
    get("heads", model.heads);
    get("kv_heads", model.kvHeads);
    get("hidden_dim", model.hiddenDim);
  }
  model.vocab = plan.entries.front().logits.dims.empty()
                    ? 0
                    : static_cast<int32_t>(
                          plan.entries.front().logits.dims.back());
  cache.layers = model.layers;
  cache.headDim = model.headDim;
  cache.capacity = model.maxContext;
  plan.kvCache = cache;
  return success();
}

LogicalResult PlanExporter::collectTargets() {
  static const TargetExporter exporters[] = {exportCudaTarget};
  TargetExportContext context;
  context.module = module;
  context.steps = stepOps;
  context.entries = &plan.entries;
  context.describe = [this](Value value, Operation *user) {
    PlanShapes entryShapes(batch);
    shapes = &entryShapes;
    FailureOr<qrt::BufferDesc> buffer = describe(value, user);
    shapes = nullptr;
    return buffer;
  };
  for (TargetExporter exporter : exporters) {
    FailureOr<std::optional<qrt::TargetDesc>> target = exporter(context);
    if (failed(target))
      return failure();
    if (*target)
      plan.targets.push_back(std::move(**target));
  }
  return success();
}

LogicalResult PlanExporter::collect() {
  if (failed(collectPlanParameters()))
    return failure();
  for (auto func : module.getOps<func::FuncOp>())
    if (getEntry(func) && failed(collectEntry(func)))
      return failure();
  if (plan.entries.empty())
    return mlir::emitError(module.getLoc())
           << "the module has no entry points (run quant-compile)";
  return failure(failed(collectModel()) || failed(collectSharding()) ||
                 failed(collectTargets()));
}

LogicalResult PlanExporter::collectSharding() {
  if (worldSize == 1) {
    if (!rankWeights.empty())
      return mlir::emitError(module.getLoc())
             << "weights have rank values (qllm.shards) but the plan has "
                "one rank";
    return success();
  }
  qrt::ShardingDesc sharding;
  sharding.worldSize = static_cast<int32_t>(worldSize);
  const uint32_t count = static_cast<uint32_t>(plan.weights.size());
  for (int64_t r = 0; r < worldSize; ++r) {
    std::vector<uint32_t> map(count);
    for (uint32_t i = 0; i < count; ++i)
      map[i] = i; // replicated
    for (const auto &[index, ranks] : rankWeights)
      map[index] = ranks[r];
    sharding.rankWeights.push_back(std::move(map));
  }
  plan.sharding = std::move(sharding);
  return success();
}

/// The plan's description, from verified plan-ready IR.
FailureOr<qrt::PlanDesc> describePlan(ModuleOp module,
                                      const ExportPlanOptions &options) {
  if (isWeightless(module) && !options.weightless)
    return mlir::emitError(module.getLoc())
           << "the module is weightless (imported with --weightless): its "
              "weights have no values; export it as a weightless plan "
              "(--weightless)";
  // The plan-ready contract is the verifier's: export reads only what it
  // guarantees, or checks.
  if (failed(mlir::verify(module)))
    return failure();
  PlanExporter exporter(module, options);
  if (failed(exporter.collect()))
    return failure();
  return exporter.description();
}

} // namespace

LogicalResult mlir::qllm::exportPlan(ModuleOp module, llvm::raw_ostream &os,
                                     const ExportPlanOptions &options) {
  FailureOr<qrt::PlanDesc> plan = describePlan(module, options);
  if (failed(plan))
    return failure();
  std::string error;
  bool ok = qrt::writePlan(
      *plan,
      [&](const void *data, size_t size) {
        os.write(static_cast<const char *>(data), size);
        return true;
      },
      error);
  os.flush();
  if (!ok)
    return mlir::emitError(module.getLoc()) << error;
  return success();
}

FailureOr<std::vector<uint8_t>>
mlir::qllm::exportPlanToMemory(ModuleOp module,
                               const ExportPlanOptions &options) {
  FailureOr<qrt::PlanDesc> plan = describePlan(module, options);
  if (failed(plan))
    return failure();
  return qrt::writePlan(*plan);
}
