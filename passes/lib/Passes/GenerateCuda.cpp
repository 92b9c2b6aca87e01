//===- GenerateCuda.cpp - CUDA kernels for the steps of a plan ------------===//
//
// Maps each step op of the plan-ready entry points to a kernel spec of the
// emitter (quant/CodeGen/CudaKernels.h) and records its launches on the op;
// the module keeps the generated translation unit for plan export.
//
//===----------------------------------------------------------------------===//

#include "quant/Passes/Passes.h"

#include "qllm/IR/QLLMOps.h"
#include "qllm/IR/QLLMPlanAttrs.h"
#include "quant/CodeGen/CudaKernels.h"
#include "quant/Plan/PlanInfo.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::qllm {
#define GEN_PASS_DEF_QLLMGENERATECUDAPASS
#include "quant/Passes/Passes.h.inc"
} // namespace mlir::qllm

using namespace mlir;
using namespace mlir::qllm;

namespace {

int64_t lastDim(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape().back();
}

/// Arena byte range of `v` for `tokens` tokens, if it lives in the arena.
std::optional<std::pair<int64_t, int64_t>> arenaRange(Value v, int64_t tokens) {
  auto result = dyn_cast<OpResult>(v);
  if (!result)
    return std::nullopt;
  ArenaAttr arena = getArena(result.getOwner());
  if (!arena || arena.getOffsets()[result.getResultNumber()] < 0)
    return std::nullopt;
  auto type = cast<RankedTensorType>(v.getType());
  int64_t elements = 1;
  for (int64_t d : type.getShape())
    elements *= ShapedType::isDynamic(d) ? tokens : d;
  int64_t begin = arena.getOffsets()[result.getResultNumber()];
  return std::make_pair(begin, begin + elements * 4);
}

struct QLLMGenerateCudaPass
    : qllm::impl::QLLMGenerateCudaPassBase<QLLMGenerateCudaPass> {
  QLLMGenerateCudaPass() = default;
  QLLMGenerateCudaPass(const QLLMGenerateCudaPass &other)
      : QLLMGenerateCudaPassBase(other) {}

  CudaOptionSet<Pass> options{*this};

  void runOnOperation() override {
    ModuleOp module = getOperation();
    cuda::CudaModule code;
    Builder builder(module.getContext());
    bool any = false;
    CudaOptions o = options.values();
    for (auto func : module.getOps<func::FuncOp>()) {
      EntryAttr entry = getEntry(func);
      if (!entry)
        continue;
      // Token-parallel launches put the tokens on grid y (at most 65535).
      if (entry.getMaxTokens() > 65535) {
        func.emitError() << "entry takes " << entry.getMaxTokens()
                         << " tokens per step; CUDA launches take at most "
                            "65535 (use prefill-tokens=65535 or fewer)";
        return signalPassFailure();
      }
      if (failed(generate(func, entry.getMaxTokens(), o, code, builder)))
        return signalPassFailure();
      any = true;
    }
    if (!any) {
      module.emitError() << "has no entry points to generate CUDA for (run "
                            "quant-compile first)";
      return signalPassFailure();
    }
    SmallVector<Attribute> names, archs;
    for (const std::string &name : code.kernelNames())
      names.push_back(builder.getStringAttr(name));
    for (const std::string &arch : o.archs)
      archs.push_back(builder.getStringAttr(arch));
    auto attr = CudaCodeAttr::getChecked(
        [&] { return module.emitError() << "qllm-generate-cuda: "; },
        module.getContext(), StringRef(code.source()),
        builder.getArrayAttr(names),
        builder.getArrayAttr(archs));
    if (!attr)
      return signalPassFailure();
    module->setAttr(kCudaCodeAttrName, attr);
  }

  LogicalResult generate(func::FuncOp func, int64_t maxTokens,
                         const CudaOptions &o, cuda::CudaModule &code,
                         Builder &builder) {
    SmallVector<Operation *> steps;
    for (Operation &op : func.getBody().front()) {
      if (isa<func::ReturnOp>(&op))
        continue;
      if (!hasKernelOrStorage(&op))
        return op.emitError() << "has no kernel (run quant-compile, or "
                                 "qllm-select-kernels{target=cuda})";
      if (getKernel(&op))
        steps.push_back(&op);
    }
    const bool gemm = maxTokens > 1;
    for (size_t i = 0; i < steps.size(); ++i) {
      Operation *op = steps[i];
      if (getCudaLaunches(op))
        continue; // an add fused into the matmul before it
      Kernel kernel = *getKernel(op);
      // Collectives run no kernel of ours: the session calls NCCL.
      if (kernel == Kernel::all_reduce || kernel == Kernel::all_gather) {
        op->setAttr(kCudaLaunchesAttrName, builder.getArrayAttr({}));
        continue;
      }
      SmallVector<cuda::Launch> launches;
      SmallVector<bool> fusedAdd;
      if (kernel == Kernel::embedding) {
        auto embedding = cast<EmbeddingOp>(op);
        auto table = cast<RankedTensorType>(
            weightOf(embedding.getTable())->getResult(0).getType());
        launches.push_back(code.embedding(table.getDimSize(0),
                                          table.getDimSize(1),
                                          table.getElementType().isF16()));
      } else if (kernel == Kernel::rms_norm) {
        auto norm = cast<RmsNormOp>(op);
        launches.push_back(code.rmsNorm(lastDim(norm.getInput()),
                                        norm.getEpsilon().convertToFloat()));
      } else if (kernel == Kernel::matmul || kernel == Kernel::dequant_matmul ||
                 kernel == Kernel::int8_matmul) {
        cuda::MatmulSpec spec;
        spec.gemm = gemm;
        Value x;
        if (auto matmul = dyn_cast<MatmulOp>(op)) {
          x = matmul.getLhs();
          auto w = cast<RankedTensorType>(
              weightOf(matmul.getRhs())->getResult(0).getType());
          spec.rows = w.getDimSize(0);
          spec.cols = w.getDimSize(1);
          spec.storage = w.getElementType().isF16() ? cuda::WeightStorage::F16
                                                    : cuda::WeightStorage::F32;
        } else {
          auto dq = cast<DequantMatmulOp>(op);
          x = dq.getInput();
          QTensorType type = dq.getWeight().getType();
          spec.rows = type.getRows();
          spec.cols = type.getCols();
          if (std::optional<APFloat> threshold = dq.getOutlierThreshold()) {
            if (spec.cols > cuda::kMaxLlmInt8Cols)
              return op->emitError()
                     << "LLM.int8() has no CUDA kernel for more than "
                     << cuda::kMaxLlmInt8Cols << " input features (got "
                     << spec.cols << ")";
            spec.llmInt8 = true;
            spec.outlierThreshold = threshold->convertToFloat();
          }
          if (auto intN = dyn_cast<IntQuantAttr>(type.getScheme())) {
            spec.storage = cuda::WeightStorage::IntN;
            spec.intN = intN.getScheme();
          } else {
            spec.storage = cuda::WeightStorage::Float4;
            spec.float4 = *float4SchemeOf(type.getScheme());
          }
        }
        Operation *add =
            fusableAdd(op, x, i + 1 < steps.size() ? steps[i + 1] : nullptr,
                       maxTokens, o.fuseEpilogues);
        spec.addResidual = add != nullptr;
        launches.push_back(code.matmul(spec));
        fusedAdd.push_back(spec.addResidual);
        if (add)
          add->setAttr(kCudaLaunchesAttrName, builder.getArrayAttr({}));
      } else if (kernel == Kernel::rotary) {
        auto rotary = cast<RotaryOp>(op);
        auto type = cast<RankedTensorType>(rotary.getInput().getType());
        cuda::RotarySpec spec;
        spec.heads = type.getDimSize(2);
        spec.headDim = type.getDimSize(3);
        spec.rotaryDim =
            rotary.getRotaryDim() ? *rotary.getRotaryDim() : spec.headDim;
        spec.interleaved =
            rotary.getConvention() == RotaryConvention::interleaved;
        spec.tables = static_cast<bool>(rotary.getCosCache());
        spec.base =
            rotary.getBase() ? rotary.getBase()->convertToFloat() : 10000.0f;
        auto in = arenaRange(rotary.getInput(), 1);
        auto out = arenaRange(rotary.getResult(), 1);
        spec.inPlace = in && out && in->first == out->first;
        launches.push_back(code.rotary(spec));
      } else if (kernel == Kernel::attention) {
        auto attention = cast<AttentionOp>(op);
        auto q = cast<RankedTensorType>(attention.getQuery().getType());
        auto k = cast<RankedTensorType>(attention.getKey().getType());
        cuda::AttentionSpec spec;
        spec.heads = q.getDimSize(2);
        spec.kvHeads = k.getDimSize(2);
        spec.headDim = q.getDimSize(3);
        std::optional<int64_t> layer = getLayer(op);
        if (!layer)
          return op->emitError() << "has no qllm.layer (run "
                                    "qllm-specialize-entries)";
        spec.layer = *layer;
        spec.scale =
            attention.getScale()
                ? attention.getScale()->convertToFloat()
                : static_cast<float>(1.0 / std::sqrt(double(spec.headDim)));
        spec.causal = attention.getCausal();
        for (const cuda::Launch &launch : code.attention(spec))
          launches.push_back(launch);
      } else if (kernel == Kernel::add) {
        launches.push_back(code.add(lastDim(op->getResult(0))));
      } else if (kernel == Kernel::swiglu) {
        launches.push_back(code.swiglu(lastDim(op->getResult(0))));
      } else if (kernel == Kernel::gather) {
        launches.push_back(code.gather(lastDim(op->getResult(0)),
                                       lastDim(op->getOperand(0))));
      }
      SmallVector<Attribute> attrs;
      for (auto [index, launch] : llvm::enumerate(launches))
        attrs.push_back(CudaLaunchAttr::get(
            builder.getContext(), launch.function, launch.gridX,
            launch.tokensPerBlock, launch.blockX, launch.sharedBytes,
            index < fusedAdd.size() && fusedAdd[index]));
      op->setAttr(kCudaLaunchesAttrName, builder.getArrayAttr(attrs));
    }
    return success();
  }

  /// The add that `matmul` (reading `x`) can compute in its epilogue: the
  /// next step, the only use of the product, adding a value computed
  /// earlier, into a buffer that does not overlap x.
  Operation *fusableAdd(Operation *matmul, Value x, Operation *next,
                        int64_t maxTokens, bool fuseEpilogues) {
    if (!fuseEpilogues || !next || getKernel(next) != Kernel::add)
      return nullptr;
    Value product = matmul->getResult(0);
    if (!product.hasOneUse() || *product.getUsers().begin() != next)
      return nullptr;
    auto add = cast<AddOp>(next);
    Value residual = add.getLhs() == product ? add.getRhs() : add.getLhs();
    if (residual == product)
      return nullptr; // product + product
    if (Operation *def = residual.getDefiningOp())
      if (!def->isBeforeInBlock(matmul))
        return nullptr;
    auto in = arenaRange(x, maxTokens);
    auto out = arenaRange(add.getResult(), maxTokens);
    auto res = arenaRange(residual, maxTokens);
    if (!in || !out || !res)
      return nullptr;
    bool overlap = in->first < out->second && out->first < in->second;
    return overlap ? nullptr : next;
  }
};

} // namespace

std::unique_ptr<Pass>
mlir::qllm::createQLLMGenerateCudaPass(const CudaOptions &options) {
  auto pass = std::make_unique<QLLMGenerateCudaPass>();
  pass->options.assign(options);
  return pass;
}
