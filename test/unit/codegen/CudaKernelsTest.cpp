//===- CudaKernelsTest.cpp - the CUDA emitter over every kernel and scheme ===//
//
// Generates one module with every kernel kind and every weight storage the
// plan can hold (f32, f16, intN 2/3/4/8 bits with groups, per channel,
// symmetric or not, act order, f32/f16/bf16 scales, NF4 with and without
// double quantization), each as GEMV and GEMM, on shapes that take the
// vector paths and shapes that do not, and compiles it with NVRTC for
// compute_80 (PTX), sm_80 and sm_90 (cubin). Skipped without NVRTC; lit's
// `nvrtc` feature makes CI fail instead.
//
//===----------------------------------------------------------------------===//

#include "quant/CodeGen/CudaKernels.h"
#include "KernelSpecs.h"
#include "quant/CodeGen/Nvrtc.h"

#include <gtest/gtest.h>

#include <set>

using namespace mlir::qllm::cuda;

namespace {

CudaModule everything(std::vector<Launch> &launches) {
  CudaModule module;
  launches.push_back(module.embedding(300, 64, false));
  launches.push_back(module.embedding(32000, 4096, true));
  launches.push_back(module.rmsNorm(64, 1e-5f));
  launches.push_back(module.rmsNorm(4096, 1e-6f));
  for (const MatmulSpec &spec : allMatmuls())
    launches.push_back(module.matmul(spec));
  for (const MatmulSpec &spec : llmInt8Matmuls())
    launches.push_back(module.matmul(spec));
  for (int64_t cols : {int64_t(4096), int64_t(11008), kMaxLlmInt8Cols}) {
    MatmulSpec spec = llmInt8Matmuls().front();
    spec.rows = 4096;
    spec.cols = cols;
    launches.push_back(module.matmul(spec));
  }
  for (bool interleaved : {false, true})
    for (bool tables : {false, true}) {
      RotarySpec spec;
      spec.heads = 8;
      spec.headDim = 64;
      spec.rotaryDim = 32; // partial rotary: the rest is copied
      spec.interleaved = interleaved;
      spec.tables = tables;
      spec.inPlace = false;
      launches.push_back(module.rotary(spec));
    }
  for (int64_t headDim : {8, 64, 128}) {
    AttentionSpec spec;
    spec.heads = 8;
    spec.kvHeads = 2;
    spec.headDim = headDim;
    spec.layer = 3;
    spec.scale = 0.125f;
    for (const Launch &l : module.attention(spec))
      launches.push_back(l);
  }
  launches.push_back(module.add(4096));
  launches.push_back(module.swiglu(11008));
  return module;
}

TEST(CudaKernels, LaunchShapes) {
  CudaModule module;
  MatmulSpec gemv;
  gemv.rows = 11008;
  gemv.cols = 4096;
  gemv.storage = WeightStorage::IntN;
  Launch l = module.matmul(gemv);
  EXPECT_EQ(l.function, "qrt_gemv_int4_g128_f16_11008x4096");
  EXPECT_EQ(l.gridX, 11008u / 4); // one warp per row, 4 per block
  EXPECT_EQ(l.blockX, 128u);
  EXPECT_EQ(l.tokensPerBlock, 0u);
  MatmulSpec gemm = gemv;
  gemm.gemm = true;
  l = module.matmul(gemm);
  EXPECT_EQ(l.gridX, 11008u / 64);
  EXPECT_EQ(l.tokensPerBlock, 32u);
  // Identical specs share a kernel; different ones do not.
  EXPECT_EQ(module.matmul(gemv).function, "qrt_gemv_int4_g128_f16_11008x4096");
  EXPECT_EQ(module.kernelNames().size(), 2u);
  AttentionSpec attention;
  attention.heads = 32;
  attention.kvHeads = 8;
  attention.headDim = 128;
  std::vector<Launch> two = module.attention(attention);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].gridX, 8u);  // append: one block per KV head
  EXPECT_EQ(two[1].gridX, 32u); // attend: one block per head
  EXPECT_EQ(two[1].tokensPerBlock, 1u);
}

TEST(CudaKernels, SourceHasEveryKernelOnce) {
  std::vector<Launch> launches;
  CudaModule module = everything(launches);
  std::string source = module.source();
  std::set<std::string> names;
  for (const std::string &name : module.kernelNames()) {
    EXPECT_TRUE(names.insert(name).second) << name;
    EXPECT_NE(source.find(" " + name + "(qrt_params p)"), std::string::npos)
        << name;
  }
  for (const Launch &l : launches)
    EXPECT_TRUE(names.count(l.function)) << l.function;
  EXPECT_EQ(source.find('$'), std::string::npos) << "unfilled placeholder";
  EXPECT_EQ(source.find("@NAME@"), std::string::npos);
}

TEST(CudaKernels, CompilesWithNvrtcForEveryArch) {
  std::string error;
  const Nvrtc *nvrtc = Nvrtc::get(error);
  if (!nvrtc)
    GTEST_SKIP() << error;
  std::vector<Launch> launches;
  CudaModule module = everything(launches);
  std::string source = module.source();
  for (const char *arch : {"compute_80", "sm_80", "sm_90"}) {
    CompiledCode code;
    ASSERT_TRUE(nvrtc->compile(source, arch, code, error)) << error;
    EXPECT_GT(code.code.size(), 1000u) << arch;
    if (code.format == "ptx") {
      std::string ptx(code.code.begin(), code.code.end());
      for (const std::string &name : module.kernelNames())
        EXPECT_NE(ptx.find(".entry " + name + "("), std::string::npos) << name;
    } else {
      // An ELF image.
      EXPECT_EQ(std::string(code.code.begin(), code.code.begin() + 4), "\x7f"
                                                                       "ELF");
    }
  }
}

TEST(CudaKernels, NvrtcReportsCompileErrors) {
  std::string error;
  const Nvrtc *nvrtc = Nvrtc::get(error);
  if (!nvrtc)
    GTEST_SKIP() << error;
  CompiledCode code;
  EXPECT_FALSE(nvrtc->compile("extern \"C\" __global__ void k() { nope; }",
                              "sm_80", code, error));
  EXPECT_NE(error.find("could not compile the generated CUDA for sm_80"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("nope"), std::string::npos) << error;
}

} // namespace
