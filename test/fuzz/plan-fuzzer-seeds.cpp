//===- plan-fuzzer-seeds.cpp - seed plans for the plan-loader fuzzer ------===//
//
//   plan-fuzzer-seeds DIR
//
// Writes small valid plans into DIR, one per structure the loader knows:
// f32 and f16 weights, rotary tables, quantized projections of every scheme
// (int4 with zero points, NF4 double-quantized, act order, int8), a plan for
// the CUDA target (its executable: code, kernels, launches, fused
// epilogues), and a weightless plan. They are written by the runtime's plan
// writer from the runtime tests' tiny decoder (test/unit/runtime/TestPlans.h).
//
//===----------------------------------------------------------------------===//

#include "../unit/cuda/TinyCudaKernels.h"
#include "../unit/runtime/TestPlans.h"

#include <cstdio>
#include <fstream>
#include <string>

using namespace qrt;
using namespace qrt::test;

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: plan-fuzzer-seeds DIR\n");
    return 2;
  }
  std::string dir = argv[1];
  int written = 0;
  auto write = [&](const std::string &name, const std::vector<uint8_t> &plan) {
    std::ofstream out(dir + "/" + name + ".qplan", std::ios::binary);
    out.write(reinterpret_cast<const char *>(plan.data()),
              std::streamsize(plan.size()));
    written += out ? 1 : 0;
  };
  TinyConfig base;
  base.layers = 1;
  write("f32", tinyPlanBytes(base));
  TinyConfig tables = base;
  tables.weightType = fb::DType::F16;
  tables.convention = fb::RotaryConvention::RotateHalf;
  tables.rotaryTables = true;
  write("f16-tables", tinyPlanBytes(tables));
  TinyConfig quantized = base;
  quantized.projectionSchemes = {
      WeightScheme::of(intNScheme(4, 8, false, ScaleType::F16)),
      WeightScheme::of(nf4Scheme(8, ScaleType::F32, 5)),
      WeightScheme::of(intNScheme(4, 4, false, ScaleType::F16, true)),
      WeightScheme::of(intNScheme(8, kPerChannel, true, ScaleType::F32))};
  write("quantized", tinyPlanBytes(quantized));
  PlanDesc cuda = tinyPlanSpec(makeTinyModel(base));
  attachTinyCudaKernels(cuda);
  write("cuda", writePlan(cuda));
  write("weightless", weightlessPlanBytes(tinyPlanSpec(makeTinyModel(quantized)), 3));
  std::printf("plan-fuzzer-seeds: %d plans in %s\n", written, dir.c_str());
  return written == 5 ? 0 : 1;
}
