//===- QLLMPlanAttrs.h - the plan-ready IR contract -------------*- C++ -*-===//
//
// The names under which passes attach the typed attributes of
// QLLMPlanAttrs.td (and the importer its model metadata), and typed
// accessors. Every `qllm.` attribute is verified by the dialect where it is
// attached: its type, its values, the op it may sit on, and what it must
// agree with (a kernel with its op, arena offsets with the entry's arena, a
// role with the argument or result it marks, CUDA launches with the
// module's code). Plan export relies on nothing else.
//
//===----------------------------------------------------------------------===//

#ifndef QLLM_IR_QLLMPLANATTRS_H
#define QLLM_IR_QLLMPLANATTRS_H

#include "qllm/IR/QLLMAttrs.h"

#include "mlir/IR/Operation.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/StringRef.h"

#include <optional>

namespace mlir::qllm {

// Ops of an entry point (qllm-select-kernels, qllm-plan-memory,
// qllm-specialize-entries, qllm-generate-cuda).
inline constexpr llvm::StringLiteral kKernelAttrName = "qllm.kernel";
inline constexpr llvm::StringLiteral kStorageAttrName = "qllm.storage";
inline constexpr llvm::StringLiteral kArenaAttrName = "qllm.arena";
inline constexpr llvm::StringLiteral kLayerAttrName = "qllm.layer";
/// On a qllm.weight of a tensor-parallel module: every rank's value (an
/// array of `world_size` elements attributes of the op's type; rank 0's is
/// the op's own value).
inline constexpr llvm::StringLiteral kShardsAttrName = "qllm.shards";
/// On a tensor-parallel module: the whole model's `heads`, `kv_heads` and
/// `hidden_dim` (its ops have each rank's), for the plan's description.
inline constexpr llvm::StringLiteral kUnshardedAttrName = "qllm.unsharded";
inline constexpr llvm::StringLiteral kCudaLaunchesAttrName = "qllm.cuda_launches";
// Functions and the module.
inline constexpr llvm::StringLiteral kEntryAttrName = "qllm.entry";
inline constexpr llvm::StringLiteral kPlanAttrName = "qllm.plan";
inline constexpr llvm::StringLiteral kCudaCodeAttrName = "qllm.cuda_code";
// Arguments and results.
inline constexpr llvm::StringLiteral kRoleAttrName = "qllm.role";
inline constexpr llvm::StringLiteral kDimRolesAttrName = "qllm.dim_roles";
// From the importer: the ONNX names of inputs, outputs and dimensions, and
// the model's metadata.
inline constexpr llvm::StringLiteral kNameAttrName = "qllm.name";
inline constexpr llvm::StringLiteral kDimsAttrName = "qllm.dims";
// The ONNX name of an input or output that qllm-classify-dims named by its
// structure (`qllm.name` then holds the interface name).
inline constexpr llvm::StringLiteral kOnnxNameAttrName = "qllm.onnx_name";
inline constexpr llvm::StringLiteral kSourceAttrName = "qllm.source";
inline constexpr llvm::StringLiteral kProducerAttrName = "qllm.producer";
inline constexpr llvm::StringLiteral kOpsetsAttrName = "qllm.opsets";
inline constexpr llvm::StringLiteral kMetadataAttrName = "qllm.metadata";

/// The kernel `op` runs as a plan step (`qllm.kernel`), if any.
std::optional<Kernel> getKernel(Operation *op);
/// How `op` is stored when it is not a step (`qllm.storage`), if set.
std::optional<Storage> getStorage(Operation *op);
/// Whether `op` has either: qllm-select-kernels has seen it.
inline bool hasKernelOrStorage(Operation *op) {
  return getKernel(op) || getStorage(op);
}
/// The only kernel that can run `op`, by its kind (nullopt: no kernel).
std::optional<Kernel> kernelForOp(Operation *op);
/// The entry attribute of a function (null if it is not an entry point).
EntryAttr getEntry(Operation *function);
/// The plan attribute of a module (null if absent).
PlanAttr getPlan(Operation *module);
/// The arena offsets of `op` (null if absent).
ArenaAttr getArena(Operation *op);
/// The decoder layer of an attention (`qllm.layer`), if set.
std::optional<int64_t> getLayer(Operation *op);
/// The module's generated CUDA code (null if absent).
CudaCodeAttr getCudaCode(Operation *module);
/// An op's CUDA launches (`qllm.cuda_launches`, an array of
/// #qllm.cuda_launch), null if absent.
ArrayAttr getCudaLaunches(Operation *op);
/// The roles of argument `index`'s dimensions (`qllm.dim_roles`, one per
/// dimension as the verifier checks); empty if unclassified.
SmallVector<DimRole> getArgDimRoles(FunctionOpInterface function,
                                    unsigned index);

/// Bytes of an f32 activation of `type` with its dynamic dimension (at most
/// one, the tokens) taken as `tokens`; nullopt for more dynamic dimensions.
std::optional<int64_t> activationBytes(Type type, int64_t tokens);

} // namespace mlir::qllm

#endif // QLLM_IR_QLLMPLANATTRS_H
