//===- WeightMemoryTest.cpp - weights on huge pages -----------------------===//
//
// qrt::WeightMemory: 2 MiB-aligned, zeroed, writable until sealed, advised
// for huge pages (the "hg" flag of its mapping in /proc/self/smaps, which
// the kernel sets on MADV_HUGEPAGE whether or not it finds huge pages), and
// its huge-page count bounded by its size. LoadedPlan::openFile with
// PlanHome::WeightMemory: the plan is copied there byte for byte, gives the
// same logits, bit for bit, as the file's mapping, and the file's pages are
// never mapped into the process (its RSS holds one copy of the weights);
// its checksums are verified on the copy; a weightless plan's weights are
// synthesized into WeightMemory.
//
//===----------------------------------------------------------------------===//

#include "TestPlans.h"

#include "qrt/core/WeightMemory.h"
#include "qrt/runtime/Session.h"

#include <gtest/gtest.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

using namespace qrt;
using namespace qrt::test;

namespace {

constexpr size_t kHugePage = size_t(2) << 20;

/// The VmFlags of the mapping that holds `p` ("" when not found).
std::string mappingFlags(const void *p) {
  std::FILE *smaps = std::fopen("/proc/self/smaps", "r");
  if (!smaps)
    return "";
  const uintptr_t address = reinterpret_cast<uintptr_t>(p);
  bool inside = false;
  std::string flags;
  char line[512];
  while (std::fgets(line, sizeof line, smaps)) {
    uintptr_t from = 0, to = 0;
    if (std::sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &from, &to) == 2) {
      inside = from <= address && address < to;
      continue;
    }
    if (inside && std::strncmp(line, "VmFlags:", 8) == 0) {
      flags = line + 8;
      break;
    }
  }
  std::fclose(smaps);
  return flags;
}

/// Whether this kernel has transparent huge pages at all.
bool kernelHasHugePages() {
  return ::access("/sys/kernel/mm/transparent_hugepage/enabled", R_OK) == 0;
}

std::vector<float> logitsOf(const LoadedPlan &plan) {
  SessionOptions options;
  options.device = "cpu";
  options.threads = 1;
  std::string error;
  std::unique_ptr<Session> session = Session::create(plan, options, error);
  EXPECT_TRUE(session) << error;
  if (!session)
    return {};
  std::vector<int32_t> tokens = {1, 5, 9, 2, 31, 0, 7};
  std::vector<float> logits(tokens.size() * session->vocab());
  EXPECT_TRUE(session->forward(tokens.data(), int64_t(tokens.size()),
                               logits.data(), true, error))
      << error;
  return logits;
}

TinyConfig quantizedConfig() {
  TinyConfig c;
  c.dim = 64;
  c.hiddenDim = 128;
  c.headDim = 16;
  c.projectionSchemes = {
      WeightScheme::of(intNScheme(4, 32, false, ScaleType::F16)),
      WeightScheme::of(nf4Scheme(64, ScaleType::F32))};
  return c;
}

TEST(WeightMemoryTest, AlignedZeroedWritableAdvised) {
  const size_t bytes = 3 * kHugePage + 5;
  std::string error;
  std::unique_ptr<WeightMemory> memory = WeightMemory::allocate(bytes, error);
  ASSERT_TRUE(memory) << error;
  EXPECT_EQ(memory->size(), bytes);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(memory->data()) % kHugePage, 0u);
  const uint8_t *data = memory->data();
  size_t nonZero = 0;
  for (size_t i = 0; i < bytes; ++i)
    nonZero += data[i] != 0;
  EXPECT_EQ(nonZero, 0u);
  std::memset(memory->data(), 0xa5, bytes);
  memory->seal();
  EXPECT_EQ(data[0], 0xa5);
  EXPECT_EQ(data[bytes - 1], 0xa5);
  // The huge pages the kernel found: at most the 4 huge pages mapped.
  EXPECT_LE(memory->hugePageBytes(), 4 * kHugePage);
  if (kernelHasHugePages()) {
    EXPECT_NE(mappingFlags(data).find(" hg"), std::string::npos)
        << "VmFlags:" << mappingFlags(data);
  }
}

TEST(WeightMemoryTest, HugePageBytesOfOtherMemoryIsBounded) {
  std::vector<uint8_t> small(4096, 1);
  // A heap block shares its mapping with others: bounded by the whole
  // mapping, not the block; here just not absurd.
  EXPECT_LT(hugePageBytesOf(small.data(), small.size()), size_t(1) << 40);
  EXPECT_EQ(hugePageBytesOf(nullptr, 0), 0u);
}

/// The plan of `bytes` written to `file` and opened with `home`.
std::unique_ptr<LoadedPlan> openAt(const TempFile &file, PlanHome home,
                                   std::string &error) {
  return LoadedPlan::openFile(file.path(), error, {}, home);
}

TEST(WeightMemoryTest, CopiedPlanGivesTheMappedPlansLogits) {
  std::vector<uint8_t> bytes = tinyPlanBytes(quantizedConfig());
  TempFile file;
  file.write(bytes);
  std::string error;
  std::unique_ptr<LoadedPlan> mapped = openAt(file, PlanHome::Mapping, error);
  ASSERT_TRUE(mapped) << error;
  std::unique_ptr<LoadedPlan> copied =
      openAt(file, PlanHome::WeightMemory, error);
  ASSERT_TRUE(copied) << error;
  EXPECT_STREQ(mapped->weightHome(), "file mapping");
  EXPECT_EQ(mapped->weightHugePageBytes(), 0u);
  EXPECT_STREQ(copied->weightHome(), "huge-page copy");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(copied->data()) % kHugePage, 0u);
  ASSERT_EQ(copied->size(), bytes.size());
  EXPECT_EQ(std::memcmp(copied->data(), bytes.data(), bytes.size()), 0);
  EXPECT_EQ(copied->mutableWeight(0), nullptr); // read-only, as the file
  if (kernelHasHugePages()) {
    EXPECT_NE(mappingFlags(copied->data()).find(" hg"), std::string::npos);
  }
  std::vector<float> expected = logitsOf(*mapped);
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(logitsOf(*copied), expected);
}

TEST(WeightMemoryTest, CopiedPlansChecksumsAreVerified) {
  std::vector<uint8_t> bytes = tinyPlanBytes(quantizedConfig());
  std::string error;
  auto probe = LoadedPlan::openMemory(bytes, error);
  ASSERT_TRUE(probe) << error;
  const fb::WeightInfo *w = probe->plan().weights()->Get(1);
  bytes[w->offset()] ^= 0x10;
  TempFile file;
  file.write(bytes);
  EXPECT_FALSE(openAt(file, PlanHome::WeightMemory, error));
  EXPECT_NE(error.find("fails its checksum"), std::string::npos) << error;
  EXPECT_NE(error.find(file.path()), std::string::npos) << error;
}

TEST(WeightMemoryTest, WeightlessPlansSynthesizeIntoWeightMemory) {
  TempFile file;
  file.write(
      weightlessPlanBytes(tinyPlanSpec(makeTinyModel(quantizedConfig())), 3));
  std::string error;
  for (PlanHome home : {PlanHome::Mapping, PlanHome::WeightMemory}) {
    std::unique_ptr<LoadedPlan> plan = openAt(file, home, error);
    ASSERT_TRUE(plan) << error;
    EXPECT_STREQ(plan->weightHome(), "synthesized");
    const void *weight = plan->weight(0);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(weight) % kHugePage, 0u);
    if (kernelHasHugePages()) {
      EXPECT_NE(mappingFlags(weight).find(" hg"), std::string::npos);
    }
  }
}

} // namespace
