//===- Executable.cpp - the CUDA backend's code in a plan -----------------===//

#include "qrt/cuda/Executable.h"

#include "qrt/core/FirstError.h"
#include "qrt/core/Plan.h"
#include "qrt/cuda/KernelAbi.h"
#include "qrt/schema/cuda_executable_generated.h"

#include <algorithm>
#include <iomanip>
#include <map>
#include <sstream>

namespace qrt::cuda {

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

std::vector<uint8_t> writeExecutable(const ExecutableDesc &desc) {
  flatbuffers::FlatBufferBuilder fbb(1 << 12);
  fbb.ForceDefaults(true);
  std::vector<flatbuffers::Offset<schema::EntryLaunches>> entries;
  for (const auto &entry : desc.launches) {
    std::vector<flatbuffers::Offset<schema::StepLaunches>> steps;
    for (const auto &step : entry) {
      std::vector<flatbuffers::Offset<schema::Launch>> launches;
      for (const LaunchDesc &l : step) {
        flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::Buffer>>>
            own = 0;
        if (!l.buffers.empty())
          own = createBuffers(fbb, l.buffers);
        launches.push_back(schema::CreateLaunch(
            fbb, fbb.CreateString(l.function), l.gridX, l.tokensPerBlock,
            l.blockX, l.sharedBytes, own));
      }
      steps.push_back(
          schema::CreateStepLaunches(fbb, fbb.CreateVector(launches)));
    }
    entries.push_back(schema::CreateEntryLaunches(fbb, fbb.CreateVector(steps)));
  }
  auto entryVector = fbb.CreateVector(entries);
  std::vector<flatbuffers::Offset<schema::Module>> modules;
  for (const ModuleDesc &m : desc.modules)
    modules.push_back(schema::CreateModule(fbb, fbb.CreateString(m.format),
                                           fbb.CreateString(m.arch),
                                           fbb.CreateVector(m.code)));
  auto moduleVector = fbb.CreateVector(modules);
  std::vector<flatbuffers::Offset<flatbuffers::String>> kernels;
  for (const std::string &k : desc.kernels)
    kernels.push_back(fbb.CreateString(k));
  auto kernelVector = fbb.CreateVector(kernels);
  schema::FinishExecutableBuffer(
      fbb, schema::CreateExecutable(fbb, kernelVector, moduleVector,
                                    entryVector));
  return std::vector<uint8_t>(fbb.GetBufferPointer(),
                              fbb.GetBufferPointer() + fbb.GetSize());
}

//===----------------------------------------------------------------------===//
// Verification
//===----------------------------------------------------------------------===//

namespace {

std::string str(const flatbuffers::String *s) { return s ? s->str() : ""; }

class Verifier : public FirstError {
public:
  Verifier(const fb::Plan &plan, const schema::Executable &executable)
      : plan(plan), executable(executable) {}

  bool run() {
    if (!checkKernels() || !checkModules())
      return false;
    const auto *entries = executable.entries();
    size_t count = entries ? entries->size() : 0;
    if (count != plan.entries()->size())
      return fail("the executable has launches for ", count,
                  " entries, the plan has ", plan.entries()->size());
    for (uint32_t e = 0; e < count; ++e)
      if (!checkEntry(*plan.entries()->Get(e), entries->Get(e)))
        return false;
    return true;
  }

private:

  bool checkKernels();
  bool checkModules();
  bool checkEntry(const fb::Entry &entry, const schema::EntryLaunches *launches);
  bool checkLaunch(const schema::Launch &launch, const fb::Step &step,
                   const fb::Entry &entry, std::string what);

  const fb::Plan &plan;
  const schema::Executable &executable;
  /// The executable's kernels, sorted.
  std::vector<std::string> kernels;
};

bool Verifier::checkKernels() {
  const auto *names = executable.kernels();
  if (!names || names->size() == 0)
    return fail("the executable lists no kernels");
  for (uint32_t k = 0; k < names->size(); ++k) {
    if (!isKernelName(names->Get(k)->string_view()))
      return fail("kernel ", k, " '", names->Get(k)->str(),
                  "' is not a C identifier");
    kernels.push_back(names->Get(k)->str());
  }
  std::sort(kernels.begin(), kernels.end());
  auto twice = std::adjacent_find(kernels.begin(), kernels.end());
  if (twice != kernels.end())
    return fail("kernel '", *twice, "' is listed twice");
  return true;
}

bool Verifier::checkModules() {
  const auto *modules = executable.modules();
  if (!modules || modules->size() == 0)
    return fail("the executable has no code");
  bool source = false;
  std::vector<std::string> compiled; // "ptx compute_80", "cubin sm_90"
  for (uint32_t i = 0; i < modules->size(); ++i) {
    const schema::Module *m = modules->Get(i);
    std::string format = str(m->format()), arch = str(m->arch());
    std::string what = "module " + std::to_string(i);
    if (format.empty())
      return fail(what, " has no format");
    what += " (" + format + (arch.empty() ? "" : " " + arch) + ")";
    if (format == "cuda-source") {
      if (!arch.empty())
        return fail(what, ": CUDA source has no architecture");
      if (source)
        return fail(what, ": the executable has a second cuda-source");
      source = true;
    } else if (format == "ptx" || format == "cubin") {
      const std::string prefix = format == "ptx" ? "compute_" : "sm_";
      if (arch.empty())
        return fail(what, ": ", format, " needs an architecture (", prefix,
                    "XY)");
      if (!isCudaArch(arch, prefix))
        return fail(what, ": the architecture '", arch, "' is not ", prefix,
                    "XY");
      std::string key = format + " " + arch;
      if (std::find(compiled.begin(), compiled.end(), key) != compiled.end())
        return fail(what, ": the executable has a second ", key);
      compiled.push_back(key);
    } else {
      return fail(what, ": unknown CUDA code format '", format,
                  "' (cuda-source, ptx or cubin)");
    }
    if (!m->code() || m->code()->size() == 0)
      return fail(what, " has no code");
  }
  return true;
}

bool Verifier::checkEntry(const fb::Entry &entry,
                          const schema::EntryLaunches *launches) {
  const auto *steps = launches->steps();
  size_t count = steps ? steps->size() : 0;
  if (count != entry.steps()->size())
    return fail("entry '", str(entry.name()), "' has ",
                entry.steps()->size(), " steps, the executable launches ",
                count);
  for (uint32_t i = 0; i < count; ++i) {
    const fb::Step &step = *entry.steps()->Get(i);
    const auto *list = steps->Get(i)->launches();
    for (uint32_t l = 0; list && l < list->size(); ++l)
      if (!checkLaunch(*list->Get(l), step, entry,
                       stepWhere(step, entry, i) + " launch " +
                           std::to_string(l)))
        return false;
  }
  return true;
}

bool Verifier::checkLaunch(const schema::Launch &launch, const fb::Step &step,
                           const fb::Entry &entry, std::string what) {
  if (!launch.function() || launch.function()->size() == 0)
    return fail(what, " names no function");
  std::string function = launch.function()->str();
  what += " (" + function + ")";
  if (!std::binary_search(kernels.begin(), kernels.end(), function))
    return fail(what, ": the executable has no kernel '", function, "'");
  if (launch.grid_x() == 0 || launch.grid_x() > kMaxGridX)
    return fail(what, ": grid_x ", launch.grid_x(), " is not in [1, ",
                kMaxGridX, "]");
  if (launch.block_x() == 0 || launch.block_x() > kMaxBlockX)
    return fail(what, ": block_x ", launch.block_x(), " is not in [1, ",
                kMaxBlockX, "]");
  if (uint32_t perBlock = launch.tokens_per_block()) {
    uint64_t gridY = (uint64_t(entry.max_tokens()) + perBlock - 1) / perBlock;
    if (gridY > kMaxGridY)
      return fail(what, ": tokens_per_block ", perBlock, " makes a grid y of ",
                  gridY, " for ", entry.max_tokens(), " tokens (at most ",
                  kMaxGridY, ")");
  }
  if (launch.shared_bytes() > kMaxSharedBytes)
    return fail(what, ": shared_bytes ", launch.shared_bytes(), " exceeds ",
                kMaxSharedBytes, " (48 KiB)");
  // The kernel's KernelParams: the launch's own buffers (a fused epilogue),
  // or else the step's inputs then outputs (checked by the core verifier).
  const auto *own = launch.buffers();
  bool hasOwn = own && own->size() > 0;
  size_t count = hasOwn ? own->size()
                        : (step.inputs() ? step.inputs()->size() : 0) +
                              (step.outputs() ? step.outputs()->size() : 0);
  if (count > size_t(kMaxKernelBuffers))
    return fail(what, hasOwn ? ": has " : ": the step has ", count,
                " buffers (a kernel takes at most ", kMaxKernelBuffers, ")");
  for (uint32_t b = 0; hasOwn && b < own->size(); ++b) {
    std::string problem;
    if (!checkPlanBuffer(plan, entry, own->Get(b),
                         what + " buffer " + std::to_string(b), problem))
      return fail(problem);
  }
  return true;
}

} // namespace

bool verifyExecutable(const fb::Plan &plan, Executable executable,
                      std::string &error) {
  if (!executable.data || executable.size < 8 ||
      !schema::ExecutableBufferHasIdentifier(executable.data)) {
    error = "not a CUDA executable (no QCUD identifier)";
    return false;
  }
  flatbuffers::Verifier fbVerifier(executable.data, executable.size,
                                   /*max_depth=*/64, /*max_tables=*/10000000);
  if (!schema::VerifyExecutableBuffer(fbVerifier)) {
    error = "the CUDA executable's FlatBuffer is malformed";
    return false;
  }
  Verifier verifier(plan, *schema::GetExecutable(executable.data));
  if (verifier.run())
    return true;
  error = verifier.message();
  return false;
}

const schema::Executable &executableRoot(Executable executable) {
  return *schema::GetExecutable(executable.data);
}

std::vector<ModuleCode> cudaCodeOf(const fb::Plan &plan) {
  std::vector<ModuleCode> out;
  Executable executable = executableOf(plan, kTargetName);
  if (!executable.data)
    return out;
  const schema::Executable &root = executableRoot(executable);
  std::vector<std::string> kernels;
  for (const flatbuffers::String *k : *root.kernels())
    kernels.push_back(k->str());
  for (const schema::Module *m : *root.modules()) {
    ModuleCode c;
    c.format = str(m->format());
    c.arch = str(m->arch());
    c.code = m->code()->data();
    c.size = m->code()->size();
    c.kernels = kernels;
    out.push_back(std::move(c));
  }
  return out;
}

std::string describeExecutable(Executable executable) {
  const schema::Executable &root = executableRoot(executable);
  std::map<std::string, std::string> byFormat;
  for (const schema::Module *m : *root.modules()) {
    std::string &archs = byFormat[str(m->format())];
    std::string arch = str(m->arch());
    if (!arch.empty())
      archs += (archs.empty() ? " " : ", ") + arch;
  }
  std::string text;
  for (const auto &[format, archs] : byFormat)
    text += (text.empty() ? "" : "; ") + format + archs;
  return text + "; " + std::to_string(root.kernels()->size()) + " kernels";
}

namespace {

/// The executable as JSON: its kernels one per line, its modules, then per
/// entry the launches of each step, one step per line.
void writeExecutableJson(const fb::Plan &plan, Executable executable,
                         std::ostream &os) {
  (void)plan;
  const schema::Executable &root = executableRoot(executable);
  os << "{\"kernels\": [";
  for (uint32_t k = 0; k < root.kernels()->size(); ++k) {
    os << (k ? "," : "") << "\n       ";
    writeJsonString(os, root.kernels()->Get(k));
  }
  os << "],\n     \"modules\": [";
  for (uint32_t i = 0; i < root.modules()->size(); ++i) {
    const schema::Module *m = root.modules()->Get(i);
    os << (i ? ", " : "") << "{\"format\": ";
    writeJsonString(os, m->format());
    if (m->arch() && m->arch()->size()) {
      os << ", \"arch\": ";
      writeJsonString(os, m->arch());
    }
    os << ", \"bytes\": " << m->code()->size() << "}";
  }
  os << "],\n     \"entries\": [";
  for (uint32_t e = 0; e < root.entries()->size(); ++e) {
    const auto *steps = root.entries()->Get(e)->steps();
    os << (e ? "," : "") << "\n      [";
    for (uint32_t s = 0; s < steps->size(); ++s) {
      os << (s ? "," : "") << "\n       [";
      const auto *launches = steps->Get(s)->launches();
      for (uint32_t l = 0; launches && l < launches->size(); ++l) {
        const schema::Launch *launch = launches->Get(l);
        os << (l ? ", " : "") << "{\"function\": ";
        writeJsonString(os, launch->function());
        os << ", \"grid_x\": " << launch->grid_x()
           << ", \"tokens_per_block\": " << launch->tokens_per_block()
           << ", \"block_x\": " << launch->block_x();
        if (launch->shared_bytes())
          os << ", \"shared_bytes\": " << launch->shared_bytes();
        if (launch->buffers() && launch->buffers()->size()) {
          os << ", \"buffers\": ";
          writeBuffersJson(os, launch->buffers());
        }
        os << "}";
      }
      os << "]";
    }
    os << "]";
  }
  os << "]}";
}

} // namespace

void registerTarget() {
  TargetSupport support;
  support.name = kTargetName;
  support.verify = [](const fb::Plan &plan, Executable executable,
                      std::string &error) {
    return verifyExecutable(plan, executable, error);
  };
  support.json = writeExecutableJson;
  support.describe = describeExecutable;
  qrt::registerTarget(std::move(support));
}

} // namespace qrt::cuda
