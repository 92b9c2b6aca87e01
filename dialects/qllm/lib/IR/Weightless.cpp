//===- Weightless.cpp - modules whose weights have no values --------------===//

#include "qllm/IR/Weightless.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/Support/ErrorHandling.h"

#include <sys/mman.h>

using namespace mlir;

bool mlir::qllm::isWeightless(Operation *op) {
  for (; op; op = op->getParentOp())
    if (isa<ModuleOp>(op) && op->hasAttr(kWeightlessAttrName))
      return true;
  return false;
}

AsmResourceBlob mlir::qllm::zeroBlob(size_t bytes, size_t alignment) {
  if (bytes == 0)
    return HeapAsmResourceBlob::allocate(0, alignment, /*dataIsMutable=*/false);
  // Page-aligned, which satisfies any element alignment.
  void *data = ::mmap(nullptr, bytes, PROT_READ,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (data == MAP_FAILED)
    llvm::report_fatal_error("cannot reserve " + llvm::Twine(bytes) +
                             " bytes of address space for a weightless blob");
  return AsmResourceBlob(
      ArrayRef<char>(static_cast<const char *>(data), bytes), alignment,
      [](void *data, size_t bytes, size_t) { ::munmap(data, bytes); },
      /*dataIsMutable=*/false);
}
