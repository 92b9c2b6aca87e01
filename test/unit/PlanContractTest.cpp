//===- PlanContractTest.cpp - damaged plan-ready IR never crashes ---------===//
//
// The plan-ready IR contract (qllm/IR/QLLMPlanAttrs.h) under hand edits, as
// a user who edits compiled IR would make them: the tiny decoder of
// test/Plan is compiled three ways (f32 for the CPU; int8 with the output
// projection quantized and f16 float weights, so quantized weights, storage
// casts and dequant_matmul steps appear; f32 for the CUDA target, with its
// launches and code), printed, and every occurrence of every lowering
// attribute (qllm.kernel, qllm.storage, qllm.arena, qllm.layer, qllm.entry,
// qllm.plan, qllm.role, qllm.dim_roles, qllm.cuda_launches, qllm.cuda_code,
// and the importer's qllm.dims and qllm.name) is mutated in the text:
// dropped, emptied, given a value of the wrong type or of another
// attribute, or a valid attribute with out-of-range or wrong values. Each
// mutant is parsed (which verifies it) and exported to a plan; every
// rejection must be an error with a location. A plan that is still written
// must load and run prefill and decode steps on the CPU without a crash (it
// may compute other numbers, or be refused by the runtime with a message).
//
//===----------------------------------------------------------------------===//

#include "qllm/IR/QLLMDialect.h"
#include "qrt/core/Plan.h"
#include "qrt/runtime/Session.h"
#include "quant/CodeGen/Nvrtc.h"
#include "quant/Passes/Passes.h"
#include "quant/Plan/ExportPlan.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace mlir;
using namespace mlir::qllm;

namespace {

std::string readFile(const std::string &path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// Errors reported while a mutant was parsed, verified or exported.
struct Errors {
  std::vector<std::string> messages;
  bool unlocated = false;
};

/// The tiny decoder compiled with `options`, printed (weights included).
std::string compiled(MLIRContext &context, const std::string &options) {
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(
      readFile(QUANT_TINY_DECODER), &context, "tiny-decoder.mlir");
  EXPECT_TRUE(module);
  std::unique_ptr<CompileOptions> compile =
      CompileOptions::createFromString(options);
  EXPECT_TRUE(compile) << options;
  PassManager pm = PassManager::on<ModuleOp>(&context);
  buildCompilePipeline(pm, *compile);
  EXPECT_TRUE(succeeded(pm.run(*module))) << options;
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os);
  return text;
}

/// One `qllm.<name> = <value>` in the printed IR.
struct Occurrence {
  std::string name;
  /// [begin, end) of the whole `name = value`, and of the value.
  size_t begin, valueBegin, end;
};

/// The end of the attribute value starting at `at`: the first ',', '}' or
/// ')' outside brackets and strings.
size_t valueEnd(const std::string &text, size_t at) {
  int depth = 0;
  bool quoted = false;
  for (size_t i = at; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        quoted = false;
      continue;
    }
    if (c == '"')
      quoted = true;
    else if (c == '(' || c == '[' || c == '{' || c == '<')
      ++depth;
    else if ((c == ')' || c == ']' || c == '}' || c == '>') && depth > 0)
      --depth;
    else if (depth == 0 && (c == ',' || c == '}' || c == ')'))
      return i;
  }
  return text.size();
}

std::vector<Occurrence> occurrences(const std::string &text) {
  static const std::vector<std::string> names = {
      "kernel",        "storage",   "arena", "layer", "entry",
      "plan",          "role",      "dim_roles", "cuda_launches",
      "cuda_code",     "dims",      "name"};
  std::vector<Occurrence> out;
  for (const std::string &name : names) {
    std::string key = "qllm." + name + " = ";
    for (size_t at = text.find(key); at != std::string::npos;
         at = text.find(key, at + 1)) {
      Occurrence o{name, at, at + key.size(), 0};
      o.end = valueEnd(text, o.valueBegin);
      out.push_back(o);
    }
  }
  return out;
}

/// Replacement values for an attribute of `name` whose value is `value`:
/// the empty dictionary, values of the wrong type, other attributes of the
/// dialect, and valid attributes with wrong or out-of-range contents. ""
/// means: drop the attribute.
std::vector<std::string> mutations(const std::string &name,
                                   const std::string &value) {
  std::vector<std::string> m = {"", "{}", "7 : i64", "\"x\"",
                                "#qllm.storage<view>", "#qllm.kernel<add>"};
  auto add = [&](std::initializer_list<const char *> values) {
    for (const char *v : values)
      m.push_back(v);
  };
  if (name == "kernel")
    add({"#qllm.kernel<embedding>", "#qllm.kernel<rms_norm>",
         "#qllm.kernel<matmul>", "#qllm.kernel<rotary>",
         "#qllm.kernel<attention>", "#qllm.kernel<swiglu>",
         "#qllm.kernel<dequant_matmul>", "\"matmul\"", "#qllm.kernel<nope>"});
  else if (name == "storage")
    add({"#qllm.storage<weight>", "#qllm.storage<constant>", "\"view\""});
  else if (name == "arena")
    add({"#qllm.arena<[]>", "#qllm.arena<[0, 0, 0, 0]>", "#qllm.arena<[-2]>",
         "#qllm.arena<[3]>", "#qllm.arena<[1099511627776]>",
         "#qllm.arena<[4]>", "#qllm.arena<[1048576]>", "array<i64: 0>",
         "#qllm.arena<[-1]>", "#qllm.arena<[0, -1, -1]>",
         "#qllm.arena<[768, 768, 768]>"});
  else if (name == "layer")
    add({"1 : i64", "5 : i64", "-1 : i64", "1048576 : i64", "0 : i1",
         "0.0 : f32"});
  else if (name == "entry")
    add({"#qllm.entry<max_tokens = 0>", "#qllm.entry<max_tokens = -1>",
         "#qllm.entry<max_tokens = 1073741825>",
         "#qllm.entry<max_tokens = 16>", "#qllm.entry<max_tokens = 2>",
         "#qllm.entry<max_tokens = 17, arena_bytes = 1024>",
         "#qllm.entry<max_tokens = 16, arena_bytes = 4>",
         "#qllm.entry<max_tokens = 16, arena_bytes = -4>",
         "#qllm.entry<max_tokens = 16, arena_bytes = 2199023255552>",
         "#qllm.entry<max_tokens = 1, arena_bytes = 100000>",
         "{max_tokens = 16 : i64}", "#qllm.plan<batch = 1, max_context = 4>"});
  else if (name == "plan")
    add({"#qllm.plan<batch = 2, max_context = 16>",
         "#qllm.plan<batch = 0, max_context = 16>",
         "#qllm.plan<batch = 1, max_context = 0>",
         "#qllm.plan<batch = 1, max_context = 33554432>",
         "#qllm.plan<batch = 1, max_context = 1>",
         "#qllm.plan<batch = 1, max_context = 8>",
         "#qllm.plan<batch = 1, max_context = 16, bos = -1>",
         "#qllm.plan<batch = 1, max_context = 16, eos = 2147483648>",
         "#qllm.plan<batch = 1, max_context = 16, bos = 99, eos = 99>",
         "#qllm.plan<batch = 1, max_context = 16, tokenizer = \"\\0A\">",
         "{batch = 1 : i64, max_context = 16 : i64}",
         "#qllm.entry<max_tokens = 16>"});
  else if (name == "role")
    add({"#qllm.role<tokens>", "#qllm.role<positions>", "#qllm.role<mask>",
         "#qllm.role<past_key, layer = 0>", "#qllm.role<past_value, layer = 0>",
         "#qllm.role<past_key, layer = 7>", "#qllm.role<past_key>",
         "#qllm.role<tokens, layer = 0>", "#qllm.role<logits>",
         "#qllm.role<present_key, layer = 0>",
         "#qllm.role<present_value, layer = 3>",
         "#qllm.role<past_key, layer = -1>", "\"tokens\""});
  else if (name == "dim_roles")
    add({"[]", "[#qllm.dim<batch>]",
         "[#qllm.dim<batch>, #qllm.dim<batch>, #qllm.dim<batch>, "
         "#qllm.dim<batch>, #qllm.dim<batch>]",
         "[#qllm.dim<other>, #qllm.dim<other>]",
         "[#qllm.dim<sequence>, #qllm.dim<sequence>]",
         "[#qllm.dim<past_sequence>, #qllm.dim<total_sequence>]",
         "[\"batch\", \"sequence\"]"});
  else if (name == "cuda_launches")
    add({"[]",
         "[#qllm.cuda_launch<function = \"nope\", grid_x = 1, "
         "tokens_per_block = 1, block_x = 64>]",
         "[#qllm.cuda_launch<function = \"qrt_rms_norm_4\", grid_x = 0, "
         "tokens_per_block = 1, block_x = 64>]",
         "[#qllm.cuda_launch<function = \"qrt_rms_norm_4\", grid_x = 1, "
         "tokens_per_block = 1, block_x = 2048>]",
         "[#qllm.cuda_launch<function = \"qrt_rms_norm_4\", grid_x = 1, "
         "tokens_per_block = 1, block_x = 64, shared_bytes = 49153>]",
         "[#qllm.cuda_launch<function = \"qrt_rms_norm_4\", grid_x = 1, "
         "tokens_per_block = 1, block_x = 64, fused_add = true>]",
         "[#qllm.cuda_launch<function = \"9bad\", grid_x = 1, "
         "tokens_per_block = 1, block_x = 64>]",
         "[#qllm.cuda_launch<function = \"qrt_rms_norm_4\", grid_x = 3, "
         "tokens_per_block = 0, block_x = 32>]",
         "[#qllm.cuda_launch<function = \"qrt_rms_norm_4\", grid_x = 1, "
         "tokens_per_block = -1, block_x = 64>]",
         "[7 : i64]"});
  else if (name == "cuda_code")
    add({"#qllm.cuda_code<source = \"\", kernels = [\"a\"], archs = "
         "[\"sm_90\"]>",
         "#qllm.cuda_code<source = \"x\", kernels = [], archs = [\"sm_90\"]>",
         "#qllm.cuda_code<source = \"x\", kernels = [\"a\", \"a\"], archs = "
         "[\"sm_90\"]>",
         "#qllm.cuda_code<source = \"x\", kernels = [\"a\"], archs = "
         "[\"sm_9\"]>",
         "#qllm.cuda_code<source = \"x\", kernels = [\"a\"], archs = []>",
         "#qllm.cuda_code<source = \"x\", kernels = [7], archs = "
         "[\"sm_90\"]>",
         // Valid, but not the code of the launches.
         "#qllm.cuda_code<source = \"x\", kernels = [\"a\"], archs = "
         "[\"compute_80\"]>"});
  else if (name == "dims")
    add({"[]", "[\"batch\"]", "[1, 2]", "[\"a\", \"b\", \"c\", \"d\", \"e\"]"});
  else if (name == "name")
    add({"\"input_ids\"", "\"logits\"", "\"\"", "\"present.0.key\""});
  // A value equal to the original is no mutant.
  m.erase(std::remove(m.begin(), m.end(), value), m.end());
  return m;
}

/// The text with occurrence `o` dropped (replacement "") or its value
/// replaced.
std::string mutate(const std::string &text, const Occurrence &o,
                   const std::string &replacement) {
  if (!replacement.empty())
    return text.substr(0, o.valueBegin) + replacement + text.substr(o.end);
  // Drop `name = value` and a comma beside it.
  size_t begin = o.begin, end = o.end;
  if (text.compare(end, 2, ", ") == 0)
    end += 2;
  else if (begin >= 2 && text.compare(begin - 2, 2, ", ") == 0)
    begin -= 2;
  return text.substr(0, begin) + text.substr(end);
}

struct Tally {
  size_t mutants = 0, parseRejected = 0, exportRejected = 0,
         loadRejected = 0, sessionRefused = 0, ran = 0, runErrors = 0;
  std::map<std::string, size_t> perAttribute, rejectedPerAttribute;
};

/// Parses, exports, loads and runs one mutant; expects errors to be
/// located.
void examine(MLIRContext &context, const std::string &text,
             const std::string &label, const std::string &attribute,
             Tally &tally) {
  ++tally.mutants;
  ++tally.perAttribute[attribute];
  Errors errors;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &d) {
    if (d.getSeverity() == DiagnosticSeverity::Error) {
      errors.messages.push_back(d.str());
      if (isa<UnknownLoc>(d.getLocation()))
        errors.unlocated = true;
    }
    return success();
  });
  auto rejected = [&](size_t &counter) {
    ++counter;
    ++tally.rejectedPerAttribute[attribute];
    EXPECT_FALSE(errors.messages.empty()) << label << ": no error";
    EXPECT_FALSE(errors.unlocated)
        << label << ": an error without a location: " << errors.messages[0];
  };
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(text, &context, "mutant.mlir");
  if (!module)
    return rejected(tally.parseRejected);
  FailureOr<std::vector<uint8_t>> plan = exportPlanToMemory(*module);
  if (failed(plan))
    return rejected(tally.exportRejected);
  EXPECT_TRUE(errors.messages.empty()) << label << ": " << errors.messages[0];
  std::string error;
  std::unique_ptr<qrt::LoadedPlan> loaded =
      qrt::LoadedPlan::openMemory(std::move(*plan), error);
  if (!loaded) {
    ++tally.loadRejected;
    if (std::getenv("QUANT_TEST_VERBOSE"))
      std::printf("load rejected %s: %s\n", label.c_str(), error.c_str());
    EXPECT_FALSE(error.empty()) << label;
    return;
  }
  qrt::SessionOptions options;
  options.device = "cpu";
  options.threads = 1;
  std::unique_ptr<qrt::Session> session =
      qrt::Session::create(*loaded, options, error);
  if (!session) {
    ++tally.sessionRefused;
    EXPECT_FALSE(error.empty()) << label;
    return;
  }
  ++tally.ran;
  std::vector<int32_t> tokens = {1, 2, 3, 4, 5};
  std::vector<float> logits(size_t(session->vocab()) * tokens.size());
  bool ok = session->forward(tokens.data(), 5, logits.data(), true, error);
  for (int32_t next : {0, 3})
    ok = ok && session->forward(&next, 1, logits.data(), false, error);
  if (!ok) {
    ++tally.runErrors;
    EXPECT_FALSE(error.empty()) << label;
  }
}

TEST(PlanContractTest, DamagedLoweringAttributesNeverCrash) {
  DialectRegistry registry;
  registry.insert<QLLMDialect, func::FuncDialect>();
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  // Pipeline errors of the originals would be reported here: none.
  std::vector<std::pair<std::string, std::string>> modules = {
      {"f32", compiled(context, "method=fp32")},
      {"int8", compiled(context, "method=int8 quantize-output=true "
                                 "float-weights=f16")}};
  // The CUDA module exports only where NVRTC is (it compiles PTX).
  std::string nvrtcError;
  bool nvrtc = cuda::Nvrtc::get(nvrtcError) != nullptr;
  if (nvrtc)
    modules.push_back(
        {"cuda",
         compiled(context, "method=fp32 target=cuda cuda-archs=compute_80")});
  Tally tally;
  for (const auto &[variant, text] : modules) {
    // The original exports and runs.
    size_t before = tally.ran;
    examine(context, text, variant + " unchanged", "none", tally);
    ASSERT_EQ(tally.ran, before + 1) << variant;
    // At most a few occurrences of each attribute per module, spread over
    // the module (prefill and decode have the same attributes).
    std::map<std::string, std::vector<Occurrence>> byName;
    for (const Occurrence &o : occurrences(text))
      byName[o.name].push_back(o);
    for (const auto &[name, list] : byName) {
      // The CUDA module is for the CUDA attributes (each export compiles
      // PTX with NVRTC).
      if (variant == "cuda" && name != "cuda_launches" && name != "cuda_code")
        continue;
      size_t limit = variant == "cuda" ? 4 : 6;
      size_t step = std::max<size_t>(1, list.size() / limit);
      for (size_t i = 0; i < list.size(); i += step) {
        const Occurrence &o = list[i];
        std::string value = text.substr(o.valueBegin, o.end - o.valueBegin);
        for (const std::string &m : mutations(name, value)) {
          std::string label = variant + " qllm." + name + " #" +
                              std::to_string(i) + " = " +
                              (m.empty() ? std::string("(dropped)") : m);
          SCOPED_TRACE(label);
          examine(context, mutate(text, o, m), label, name, tally);
        }
      }
    }
  }
  std::printf("[ mutants ] %zu mutants: %zu rejected when parsed and "
              "verified, %zu by export, %zu by the plan loader; %zu plans "
              "refused by the session, %zu ran (%zu of them stopped with an "
              "error)\n",
              tally.mutants, tally.parseRejected, tally.exportRejected,
              tally.loadRejected, tally.sessionRefused, tally.ran,
              tally.runErrors);
  for (const auto &[name, count] : tally.perAttribute)
    std::printf("[ mutants ]   qllm.%s: %zu mutants, %zu rejected\n",
                name.c_str(), count, tally.rejectedPerAttribute[name]);
  EXPECT_GE(tally.mutants, 200u);
  // Every attribute kind was mutated, and its damage caught at least once.
  for (const char *name :
       {"kernel", "storage", "arena", "layer", "entry", "plan", "role",
        "dim_roles", "dims", "name"}) {
    EXPECT_GT(tally.perAttribute[name], 0u) << name;
    EXPECT_GT(tally.rejectedPerAttribute[name], 0u) << name;
  }
  if (nvrtc) {
    for (const char *name : {"cuda_launches", "cuda_code"})
      EXPECT_GT(tally.rejectedPerAttribute[name], 0u) << name;
  }
}

} // namespace
