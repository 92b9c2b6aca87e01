//===- Nvrtc.h - compiling generated CUDA with NVRTC ------------*- C++ -*-===//
//
// NVRTC is loaded at run time (dlopen), so the compiler builds and runs on
// machines without CUDA; only compiling a target=cuda plan needs it. It is
// looked for at $QUANT_NVRTC, then $CUDA_HOME/lib64, /usr/local/cuda/lib64,
// then the loader's search path.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_CODEGEN_NVRTC_H
#define QUANT_CODEGEN_NVRTC_H

#include <string>
#include <vector>

namespace mlir::qllm::cuda {

/// Output of one compilation.
struct CompiledCode {
  /// "ptx" or "cubin".
  std::string format;
  /// "compute_80" (PTX) or "sm_80", "sm_90" (cubin).
  std::string arch;
  std::vector<char> code;
};

class Nvrtc {
public:
  /// The loaded library, or nullptr with why not in `error`.
  static const Nvrtc *get(std::string &error);

  /// NVRTC's version, e.g. "13.0".
  std::string version() const;
  /// Compiles `source` for `arch` ("compute_80": PTX; "sm_90": cubin).
  /// False with NVRTC's log in `error`.
  bool compile(const std::string &source, const std::string &arch,
               CompiledCode &out, std::string &error) const;

  struct Api;

private:
  Nvrtc() = default;
  const Api *api = nullptr;
  std::string path;
};

} // namespace mlir::qllm::cuda

#endif // QUANT_CODEGEN_NVRTC_H
