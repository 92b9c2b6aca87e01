//===- QLLMPlanAttrs.cpp - the plan-ready IR contract ---------------------===//
//
// The typed lowering attributes' own checks (their values), and the
// dialect's checks of where each `qllm.` attribute is attached and what it
// must agree with. Each check gives a located error: damaged plan-ready IR
// stops at the verifier, before a pass or plan export reads it.
//
//===----------------------------------------------------------------------===//

#include "qllm/IR/QLLMPlanAttrs.h"

#include "qllm/IR/QLLMDialect.h"
#include "qllm/IR/QLLMOps.h"
#include "qrt/cuda/KernelAbi.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace mlir::qllm;

namespace {

constexpr int64_t kMaxMaxTokens = int64_t(1) << 30;
constexpr int64_t kMaxArenaBytes = int64_t(1) << 40;
constexpr int64_t kMaxContext = int64_t(1) << 24;
constexpr int64_t kMaxLayer = int64_t(1) << 20;
using ::qrt::cuda::kMaxBlockX;
using ::qrt::cuda::kMaxGridX;
using ::qrt::cuda::kMaxGridY;
using ::qrt::cuda::kMaxSharedBytes;

} // namespace

//===----------------------------------------------------------------------===//
// The attributes' values
//===----------------------------------------------------------------------===//

LogicalResult EntryAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                int64_t maxTokens,
                                std::optional<int64_t> arenaBytes) {
  if (maxTokens < 1 || maxTokens > kMaxMaxTokens)
    return emitError() << "max_tokens must be in [1, 2^30], got " << maxTokens;
  if (arenaBytes && (*arenaBytes < 0 || *arenaBytes > kMaxArenaBytes))
    return emitError() << "arena_bytes must be in [0, 2^40], got "
                       << *arenaBytes;
  return success();
}

LogicalResult PlanAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               int64_t batch, int64_t maxContext, int64_t bos,
                               int64_t eos, StringRef tokenizer,
                               int64_t worldSize) {
  (void)tokenizer;
  if (worldSize < 1 || worldSize > 4096)
    return emitError() << "world_size must be in [1, 4096], got "
                       << worldSize;
  if (batch != 1)
    return emitError() << "batch must be 1 (the runtime runs batch 1), got "
                       << batch;
  if (maxContext < 1 || maxContext > kMaxContext)
    return emitError() << "max_context must be in [1, 2^24], got "
                       << maxContext;
  for (auto [name, id] : {std::pair<const char *, int64_t>{"bos", bos},
                          {"eos", eos}})
    if (id < 0 || id > INT32_MAX)
      return emitError() << name << " must be a token id in [0, 2^31), got "
                         << id;
  return success();
}

LogicalResult ArenaAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                ArrayRef<int64_t> offsets) {
  for (auto [i, offset] : llvm::enumerate(offsets))
    if (offset != -1 && (offset < 0 || offset % 4 != 0 ||
                         offset > kMaxArenaBytes))
      return emitError() << "arena offset " << i << " must be -1 or a "
                            "multiple of 4 in [0, 2^40], got "
                         << offset;
  return success();
}

bool RoleAttr::isCache() const {
  switch (getRole()) {
  case InterfaceRole::past_key:
  case InterfaceRole::past_value:
  case InterfaceRole::present_key:
  case InterfaceRole::present_value:
    return true;
  default:
    return false;
  }
}

bool RoleAttr::isInput() const {
  switch (getRole()) {
  case InterfaceRole::tokens:
  case InterfaceRole::positions:
  case InterfaceRole::mask:
  case InterfaceRole::past_key:
  case InterfaceRole::past_value:
    return true;
  default:
    return false;
  }
}

LogicalResult RoleAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               InterfaceRole role,
                               std::optional<int64_t> layer) {
  bool cache = role == InterfaceRole::past_key ||
               role == InterfaceRole::past_value ||
               role == InterfaceRole::present_key ||
               role == InterfaceRole::present_value;
  if (cache && !layer)
    return emitError() << "the cache role " << stringifyInterfaceRole(role)
                       << " needs its layer";
  if (!cache && layer)
    return emitError() << "the role " << stringifyInterfaceRole(role)
                       << " has no layer";
  if (layer && (*layer < 0 || *layer >= kMaxLayer))
    return emitError() << "layer must be in [0, 2^20), got " << *layer;
  return success();
}

LogicalResult
CudaLaunchAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                       StringRef function, int64_t gridX,
                       int64_t tokensPerBlock, int64_t blockX,
                       int64_t sharedBytes, bool fusedAdd) {
  (void)fusedAdd;
  if (!::qrt::cuda::isKernelName(function))
    return emitError() << "function '" << function
                       << "' is not a C identifier";
  if (gridX < 1 || gridX > kMaxGridX)
    return emitError() << "grid_x must be in [1, 2^31 - 1], got " << gridX;
  if (tokensPerBlock < 0 || tokensPerBlock > kMaxGridX)
    return emitError() << "tokens_per_block must be in [0, 2^31 - 1], got "
                       << tokensPerBlock;
  if (blockX < 1 || blockX > kMaxBlockX)
    return emitError() << "block_x must be in [1, 1024], got " << blockX;
  if (sharedBytes < 0 || sharedBytes > kMaxSharedBytes)
    return emitError() << "shared_bytes must be in [0, 48 KiB], got "
                       << sharedBytes;
  return success();
}

LogicalResult
CudaCodeAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                     StringRef source, ArrayAttr kernels, ArrayAttr archs) {
  if (source.empty())
    return emitError() << "the CUDA source is empty";
  if (!kernels || kernels.empty())
    return emitError() << "kernels must list the source's kernels";
  llvm::DenseSet<StringRef> seen;
  for (Attribute kernel : kernels) {
    auto name = dyn_cast<StringAttr>(kernel);
    if (!name || !::qrt::cuda::isKernelName(name.getValue()))
      return emitError() << "kernel " << kernel << " is not a C identifier";
    if (!seen.insert(name.getValue()).second)
      return emitError() << "kernel " << kernel << " is listed twice";
  }
  if (!archs || archs.empty())
    return emitError() << "archs must name at least one architecture";
  for (Attribute arch : archs) {
    auto name = dyn_cast<StringAttr>(arch);
    if (!name || !::qrt::cuda::isCudaArch(name.getValue()))
      return emitError() << "arch " << arch
                         << " is not compute_XY (PTX) or sm_XY (a cubin)";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Accessors
//===----------------------------------------------------------------------===//

std::optional<Kernel> mlir::qllm::getKernel(Operation *op) {
  if (auto kernel = op->getAttrOfType<KernelAttr>(kKernelAttrName))
    return kernel.getValue();
  return std::nullopt;
}

std::optional<Storage> mlir::qllm::getStorage(Operation *op) {
  if (auto storage = op->getAttrOfType<StorageAttr>(kStorageAttrName))
    return storage.getValue();
  return std::nullopt;
}

std::optional<Kernel> mlir::qllm::kernelForOp(Operation *op) {
  if (isa<EmbeddingOp>(op))
    return Kernel::embedding;
  if (isa<RmsNormOp>(op))
    return Kernel::rms_norm;
  if (isa<MatmulOp>(op))
    return Kernel::matmul;
  if (auto dq = dyn_cast<DequantMatmulOp>(op))
    return dq.getOutlierThreshold() ? Kernel::int8_matmul
                                    : Kernel::dequant_matmul;
  if (isa<RotaryOp>(op))
    return Kernel::rotary;
  if (isa<AttentionOp>(op))
    return Kernel::attention;
  if (isa<AddOp>(op))
    return Kernel::add;
  if (isa<SwiGluOp>(op))
    return Kernel::swiglu;
  if (isa<GatherOp>(op))
    return Kernel::gather;
  if (isa<AllReduceOp>(op))
    return Kernel::all_reduce;
  if (isa<AllGatherOp>(op))
    return Kernel::all_gather;
  return std::nullopt;
}

EntryAttr mlir::qllm::getEntry(Operation *function) {
  return function->getAttrOfType<EntryAttr>(kEntryAttrName);
}

PlanAttr mlir::qllm::getPlan(Operation *module) {
  return module->getAttrOfType<PlanAttr>(kPlanAttrName);
}

ArenaAttr mlir::qllm::getArena(Operation *op) {
  return op->getAttrOfType<ArenaAttr>(kArenaAttrName);
}

std::optional<int64_t> mlir::qllm::getLayer(Operation *op) {
  if (auto layer = op->getAttrOfType<IntegerAttr>(kLayerAttrName))
    return layer.getInt();
  return std::nullopt;
}

CudaCodeAttr mlir::qllm::getCudaCode(Operation *module) {
  return module->getAttrOfType<CudaCodeAttr>(kCudaCodeAttrName);
}

ArrayAttr mlir::qllm::getCudaLaunches(Operation *op) {
  return op->getAttrOfType<ArrayAttr>(kCudaLaunchesAttrName);
}

SmallVector<DimRole> mlir::qllm::getArgDimRoles(FunctionOpInterface function,
                                                unsigned index) {
  SmallVector<DimRole> roles;
  if (auto list = function.getArgAttrOfType<ArrayAttr>(index, kDimRolesAttrName))
    for (Attribute a : list) {
      auto role = dyn_cast<DimRoleAttr>(a);
      if (!role)
        return {}; // not a role list (the verifier reports it)
      roles.push_back(role.getValue());
    }
  return roles;
}

std::optional<int64_t> mlir::qllm::activationBytes(Type type, int64_t tokens) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor)
    return std::nullopt;
  int64_t elements = 1;
  int dynamic = 0;
  for (int64_t d : tensor.getShape()) {
    if (ShapedType::isDynamic(d)) {
      if (++dynamic > 1)
        return std::nullopt;
      d = tokens;
    }
    if (d < 0 || (d > 0 && elements > kMaxArenaBytes / d))
      return std::nullopt;
    elements *= d;
  }
  if (elements > kMaxArenaBytes / 4)
    return std::nullopt;
  return elements * 4;
}

//===----------------------------------------------------------------------===//
// Where each attribute sits
//===----------------------------------------------------------------------===//

namespace {

/// The storage an op of an entry point may have.
bool storageFits(Storage storage, Operation *op) {
  switch (storage) {
  case Storage::weight:
    if (auto cast = dyn_cast<CastOp>(op))
      return cast.getInput().getDefiningOp<WeightOp>() != nullptr;
    return isa<WeightOp, QuantizedWeightOp>(op);
  case Storage::constant:
    return isa<ConstantOp>(op);
  case Storage::view:
    return isa<ReshapeOp>(op);
  }
  return false;
}

/// The entry point around `op`, or failure with an error.
FailureOr<EntryAttr> enclosingEntry(Operation *op, StringRef attrName) {
  auto function = op->getParentOfType<FunctionOpInterface>();
  EntryAttr entry = function ? getEntry(function) : EntryAttr();
  if (!entry)
    return op->emitOpError() << "has '" << attrName
                             << "' outside an entry point (a function with "
                                "qllm.entry)";
  return entry;
}

LogicalResult verifyArena(Operation *op, ArenaAttr arena) {
  if (arena.getOffsets().size() != op->getNumResults())
    return op->emitOpError() << "has " << arena.getOffsets().size()
                             << " qllm.arena offsets for "
                             << op->getNumResults() << " results";
  FailureOr<EntryAttr> entry = enclosingEntry(op, kArenaAttrName);
  if (failed(entry))
    return failure();
  if (!entry->getArenaBytes())
    return op->emitOpError() << "has arena offsets but its entry point has no "
                                "arena_bytes (run qllm-plan-memory)";
  int64_t arenaBytes = *entry->getArenaBytes();
  for (auto [i, offset] : llvm::enumerate(arena.getOffsets())) {
    if (offset < 0)
      continue;
    Type type = op->getResult(i).getType();
    std::optional<int64_t> bytes =
        activationBytes(type, entry->getMaxTokens());
    if (!bytes || !cast<RankedTensorType>(type).getElementType().isF32())
      return op->emitOpError()
             << "result " << i << " of type " << type
             << " has an arena offset, but arena values are f32 with at most "
                "one dynamic (token) dimension";
    if (offset > arenaBytes || *bytes > arenaBytes - offset)
      return op->emitOpError()
             << "result " << i << " at arena offset " << offset << " ("
             << *bytes << " bytes at " << entry->getMaxTokens()
             << " tokens) lies outside the arena of " << arenaBytes
             << " bytes";
  }
  return success();
}

LogicalResult verifyCudaLaunches(Operation *op, Attribute attr) {
  auto launches = dyn_cast<ArrayAttr>(attr);
  if (!launches || !llvm::all_of(launches, [](Attribute a) {
        return isa<CudaLaunchAttr>(a);
      }))
    return op->emitOpError()
           << "'qllm.cuda_launches' must be an array of #qllm.cuda_launch";
  std::optional<Kernel> kernel = getKernel(op);
  if (!kernel)
    return op->emitOpError() << "has CUDA launches but no qllm.kernel";
  for (Attribute a : launches)
    if (cast<CudaLaunchAttr>(a).getFusedAdd() && *kernel != Kernel::matmul &&
        *kernel != Kernel::dequant_matmul && *kernel != Kernel::int8_matmul)
      return op->emitOpError() << "has a fused_add launch but is not a matmul";
  return success();
}

/// The module's CUDA code against every launch: functions it defines, and
/// grids CUDA can launch at the entry's max_tokens.
LogicalResult verifyCudaCode(Operation *module, CudaCodeAttr code) {
  llvm::DenseSet<StringRef> kernels;
  for (Attribute kernel : code.getKernels())
    kernels.insert(cast<StringAttr>(kernel).getValue());
  WalkResult walk = module->walk([&](Operation *op) -> WalkResult {
    ArrayAttr launches = getCudaLaunches(op);
    if (!launches)
      return WalkResult::advance();
    auto function = op->getParentOfType<FunctionOpInterface>();
    EntryAttr entry = function ? getEntry(function) : EntryAttr();
    for (Attribute a : launches) {
      auto launch = dyn_cast<CudaLaunchAttr>(a);
      if (!launch)
        continue; // the op's own check reports it
      if (!kernels.contains(launch.getFunction()))
        return op->emitOpError() << "launches '" << launch.getFunction()
                                 << "', which the module's CUDA code does "
                                    "not define";
      if (entry && launch.getTokensPerBlock() > 0) {
        int64_t gridY =
            (entry.getMaxTokens() + launch.getTokensPerBlock() - 1) /
            launch.getTokensPerBlock();
        if (gridY > kMaxGridY)
          return op->emitOpError()
                 << "launches '" << launch.getFunction() << "' with a grid y "
                 << "of " << gridY << " at " << entry.getMaxTokens()
                 << " tokens (at most 65535)";
      }
    }
    return WalkResult::advance();
  });
  return failure(walk.wasInterrupted());
}

LogicalResult expectModule(Operation *op, StringRef name) {
  if (!isa<ModuleOp>(op))
    return op->emitOpError() << "'" << name << "' belongs on the module";
  return success();
}

template <typename AttrT>
LogicalResult expectType(Operation *op, NamedAttribute attr,
                         StringRef what) {
  if (!isa<AttrT>(attr.getValue()))
    return op->emitOpError() << "'" << attr.getName().getValue()
                             << "' must be " << what << ", got "
                             << attr.getValue();
  return success();
}

/// qllm.dims (ONNX dimension names) and qllm.dim_roles of an argument or
/// result of `type`.
LogicalResult verifyDims(Operation *op, NamedAttribute attr, Type type,
                         const Twine &where) {
  auto list = dyn_cast<ArrayAttr>(attr.getValue());
  StringRef name = attr.getName().getValue();
  bool roles = name == kDimRolesAttrName;
  if (!list || !llvm::all_of(list, [&](Attribute a) {
        return roles ? isa<DimRoleAttr>(a) : isa<StringAttr>(a);
      }))
    return op->emitOpError() << where << ": '" << name << "' must be an array "
                             << (roles ? "of #qllm.dim" : "of strings");
  auto ranked = dyn_cast_if_present<RankedTensorType>(type);
  if (ranked && static_cast<int64_t>(list.size()) != ranked.getRank())
    return op->emitOpError() << where << ": '" << name << "' has "
                             << list.size() << " entries for a rank-"
                             << ranked.getRank() << " value";
  return success();
}

/// An argument's or result's attribute.
LogicalResult verifyValueAttribute(Operation *op, NamedAttribute attr,
                                   Type type, bool argument,
                                   const Twine &where) {
  StringRef name = attr.getName().getValue();
  if (name == kNameAttrName || name == kOnnxNameAttrName) {
    if (!isa<StringAttr>(attr.getValue()))
      return op->emitOpError() << where << ": '" << name
                               << "' must be a string";
    return success();
  }
  if (name == kDimsAttrName || name == kDimRolesAttrName)
    return verifyDims(op, attr, type, where);
  if (name == kRoleAttrName) {
    auto role = dyn_cast<RoleAttr>(attr.getValue());
    if (!role)
      return op->emitOpError() << where << ": 'qllm.role' must be a "
                                          "#qllm.role, got "
                               << attr.getValue();
    if (role.isInput() != argument)
      return op->emitOpError()
             << where << ": the role "
             << stringifyInterfaceRole(role.getRole()) << " is "
             << (argument ? "a result's" : "an argument's");
    return success();
  }
  return op->emitOpError() << where << ": unknown attribute '" << name << "'";
}

} // namespace

LogicalResult QLLMDialect::verifyOperationAttribute(Operation *op,
                                                    NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  if (name == kKernelAttrName) {
    auto kernel = dyn_cast<KernelAttr>(attr.getValue());
    if (!kernel)
      return op->emitOpError() << "'qllm.kernel' must be a #qllm.kernel, got "
                               << attr.getValue();
    if (kernelForOp(op) != kernel.getValue())
      return op->emitOpError() << "cannot run as the "
                               << stringifyKernel(kernel.getValue())
                               << " kernel";
    if (op->hasAttr(kStorageAttrName))
      return op->emitOpError() << "has both qllm.kernel and qllm.storage";
    return enclosingEntry(op, name);
  }
  if (name == kStorageAttrName) {
    auto storage = dyn_cast<StorageAttr>(attr.getValue());
    if (!storage)
      return op->emitOpError()
             << "'qllm.storage' must be a #qllm.storage, got "
             << attr.getValue();
    if (!storageFits(storage.getValue(), op))
      return op->emitOpError() << "cannot be stored as a "
                               << stringifyStorage(storage.getValue());
    return enclosingEntry(op, name);
  }
  if (name == kArenaAttrName) {
    auto arena = dyn_cast<ArenaAttr>(attr.getValue());
    if (!arena)
      return op->emitOpError() << "'qllm.arena' must be a #qllm.arena, got "
                               << attr.getValue();
    return verifyArena(op, arena);
  }
  if (name == kLayerAttrName) {
    auto layer = dyn_cast<IntegerAttr>(attr.getValue());
    if (!isa<AttentionOp>(op))
      return op->emitOpError() << "has 'qllm.layer' but is not an attention";
    if (!layer || !layer.getType().isInteger() || layer.getInt() < 0 ||
        layer.getInt() >= kMaxLayer)
      return op->emitOpError() << "'qllm.layer' must be an integer in [0, "
                                  "2^20), got "
                               << attr.getValue();
    return success();
  }
  if (name == kShardsAttrName) {
    auto weight = dyn_cast<WeightOp>(op);
    auto shards = dyn_cast<ArrayAttr>(attr.getValue());
    if (!weight)
      return op->emitOpError() << "has 'qllm.shards' but is not a qllm.weight";
    if (!shards || shards.size() < 2 || shards[0] != weight.getValue())
      return op->emitOpError()
             << "'qllm.shards' must list every rank's value, rank 0's "
                "being the weight's own";
    for (Attribute shard : shards) {
      auto elements = dyn_cast<ElementsAttr>(shard);
      if (!elements || elements.getType() != weight.getType())
        return op->emitOpError() << "'qllm.shards' holds a value that is "
                                    "not of the weight's type "
                                 << weight.getType();
    }
    return success();
  }
  if (name == kCudaLaunchesAttrName)
    return verifyCudaLaunches(op, attr.getValue());
  if (name == kEntryAttrName) {
    if (!isa<FunctionOpInterface>(op))
      return op->emitOpError() << "'qllm.entry' belongs on a function";
    return expectType<EntryAttr>(op, attr, "a #qllm.entry");
  }
  if (name == kUnshardedAttrName) {
    if (failed(expectModule(op, name)))
      return failure();
    auto whole = dyn_cast<DictionaryAttr>(attr.getValue());
    if (!whole)
      return op->emitOpError() << "'qllm.unsharded' must be a dictionary";
    for (NamedAttribute entry : whole) {
      auto value = dyn_cast<IntegerAttr>(entry.getValue());
      if (!llvm::is_contained({"heads", "kv_heads", "hidden_dim"},
                              entry.getName().getValue()) ||
          !value || value.getInt() < 1 || value.getInt() > INT32_MAX)
        return op->emitOpError()
               << "'qllm.unsharded' holds positive integers heads, kv_heads "
                  "and hidden_dim, not "
               << entry.getName() << " = " << entry.getValue();
    }
    return success();
  }
  if (name == kPlanAttrName) {
    if (failed(expectModule(op, name)))
      return failure();
    return expectType<PlanAttr>(op, attr, "a #qllm.plan");
  }
  if (name == kCudaCodeAttrName) {
    if (failed(expectModule(op, name)) ||
        failed(expectType<CudaCodeAttr>(op, attr, "a #qllm.cuda_code")))
      return failure();
    return verifyCudaCode(op, cast<CudaCodeAttr>(attr.getValue()));
  }
  if (name == kSourceAttrName || name == kProducerAttrName) {
    if (failed(expectModule(op, name)))
      return failure();
    return expectType<StringAttr>(op, attr, "a string");
  }
  if (name == kOpsetsAttrName || name == kMetadataAttrName) {
    if (failed(expectModule(op, name)))
      return failure();
    return expectType<DictionaryAttr>(op, attr, "a dictionary");
  }
  if (name == "qllm.weightless") {
    if (failed(expectModule(op, name)))
      return failure();
    return expectType<UnitAttr>(op, attr, "a unit attribute");
  }
  if (name == kNameAttrName || name == kDimsAttrName ||
      name == kDimRolesAttrName || name == kRoleAttrName)
    return op->emitOpError() << "'" << name
                             << "' belongs on a function's arguments and "
                                "results";
  return op->emitOpError() << "has an unknown attribute '" << name << "'";
}

LogicalResult QLLMDialect::verifyRegionArgAttribute(Operation *op,
                                                    unsigned regionIndex,
                                                    unsigned argIndex,
                                                    NamedAttribute attr) {
  // A declaration has no region arguments: its type says.
  Type type;
  if (auto function = dyn_cast<FunctionOpInterface>(op)) {
    if (argIndex < function.getArgumentTypes().size())
      type = function.getArgumentTypes()[argIndex];
  } else if (regionIndex < op->getNumRegions() &&
             argIndex < op->getRegion(regionIndex).getNumArguments()) {
    type = op->getRegion(regionIndex).getArgument(argIndex).getType();
  }
  return verifyValueAttribute(op, attr, type, /*argument=*/true,
                              "argument " + Twine(argIndex));
}

LogicalResult QLLMDialect::verifyRegionResultAttribute(Operation *op,
                                                       unsigned regionIndex,
                                                       unsigned resultIndex,
                                                       NamedAttribute attr) {
  (void)regionIndex;
  Type type;
  if (auto function = dyn_cast<FunctionOpInterface>(op))
    if (resultIndex < function.getResultTypes().size())
      type = function.getResultTypes()[resultIndex];
  return verifyValueAttribute(op, attr, type, /*argument=*/false,
                              "result " + Twine(resultIndex));
}
