//===- quant-run.cpp - run a quant-opt plan -------------------------------===//
//
//   quant-run PLAN.qplan [--prompt TEXT | --tokens IDS] [options]
//
// Generates text (default), dumps logits (--dump-logits) or measures
// perplexity (--perplexity). Results go to stdout (or the named file), the
// figures (speed, memory) to stderr. Exit status: 0 success; 2 bad input:
// arguments, missing or invalid files (plan, tokenizer, text), a prompt longer
// than the context; 1 a failure while running (memory, writing results, a
// device that cannot run the plan: --device cuda without a GPU or without
// CUDA code in the plan).
//
//===----------------------------------------------------------------------===//

#include "qrt/core/Targets.h"
#include "qrt/cpu/Kernels.h"
#include "qrt/runtime/Backend.h"
#include "qrt/runtime/Generate.h"
#ifdef QRT_HAVE_MPI
#include "qrt/mpi/MpiCommunicator.h"
#endif
#include "qrt/runtime/OutlierStats.h"
#include "qrt/runtime/Session.h"
#include "qrt/text/Tokenizer.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

namespace {

const char *kUsage = R"(usage: quant-run PLAN.qplan [options]

Runs a plan written by quant-translate --export-plan / --onnx-to-plan.

Modes (default: generate text):
  --prompt TEXT          prompt text; BOS is added (default: empty, BOS only)
  --tokens IDS           prompt as comma-separated token ids, used as given
  --dump-logits FILE     write the logits of every prompt token as raw
                         little-endian float32 [tokens, vocab]; no generation
  --perplexity FILE      perplexity over the documents of FILE: each is
                         BOS + its tokens, truncated to the context; the last
                         line is `perplexity: P (T tokens, D documents)`
  --kl-divergence BASE   with --perplexity: also run the plan BASE.qplan over
                         the same tokens and compare the next-token
                         distributions in memory: prints `KL divergence:
                         MEAN +- SE ...` (KL(base || plan) per predicted
                         token: mean, standard error, 99th percentile),
                         top-1 agreement and the change of perplexity with
                         its 95% confidence interval
  --doc-sep SEP          document separator (default <|endoftext|>)
  --max-docs N           the first N documents (default 200, 0: all)
  --info                 print the plan's model description and exit
  --bandwidth            no plan: measure the memory bandwidth of --device
                         (cuda: device-to-device copy of a 1 GiB buffer) and
                         exit
  --cuda-bandwidth       the same as --bandwidth --device cuda

Generation:
  -n, --max-new-tokens N tokens to generate (default 256); stops at EOS
  --temperature T        0 = greedy (default 0)
  --top-p P              nucleus sampling mass (default 0.9; 1 = off)
  --seed S               sampling seed (default 1)
  --print-ids            print generated token ids instead of text

Runtime:
  --device D             a backend (cpu, cuda) or auto (default): auto runs
                         the plan's CUDA code when it has some and a GPU is
                         present, else the CPU; cuda fails without either
  --tokenizer FILE       tokenizer (.bin, .model, tokenizer.json); default:
                         the one the plan names, relative to the plan's folder
  --threads N            CPU kernel threads (default: all cores)
  --cuda-profile         time every kernel launch (backends that can: CUDA);
                         prints the time per kernel function to stderr at
                         the end (launches the decode kernels one by one:
                         no CUDA graph)
  --no-cuda-graph        CUDA: launch the decode step's kernels one by one
                         instead of replaying them as one CUDA graph
  --context N            KV-cache positions (default: the plan's)
  --mmap                 read the weights through the file's mapping
                         instead of a copy on huge pages (the CPU streams the
                         copy 10-20% faster; the mapping loads lazily and
                         shares the page cache; --device cuda always maps)
  --stats-json FILE      also write the figures as JSON
  --outlier-stats        LLM.int8() plans: count the outlier columns of every
                         int8 matmul (llm_int8_* figures; always on with
                         --perplexity and --kl-divergence)
  -q, --quiet            no figures on stderr
  -h, --help
)";

struct Options {
  std::string plan, prompt, dumpLogits, perplexity, tokenizer,
      statsJson, klBase, docSep = "<|endoftext|>";
  std::vector<int32_t> tokenIds;
  bool havePrompt = false, haveTokens = false, info = false, printIds = false,
       quiet = false, profile = false, bandwidth = false, replayDecode = true,
       outlierStats = false, mmap = false;
  std::string device = "auto";
  int64_t maxNew = 256, documents = 200, context = 0;
  int threads = 0;
  float temperature = 0, topP = 0.9f;
  uint64_t seed = 1;
};

/// "cpu, cuda": the backends this quant-run has.
std::string backendNames() {
  std::vector<std::string> names;
  for (const qrt::Backend *backend : qrt::registeredBackends())
    names.push_back(backend->name);
  std::sort(names.begin(), names.end());
  std::string text;
  for (const std::string &name : names)
    text += (text.empty() ? "" : ", ") + name;
  return text;
}

[[noreturn]] void usageError(const std::string &message) {
  std::fprintf(stderr, "quant-run: %s\n(run quant-run --help for usage)\n",
               message.c_str());
  std::exit(2);
}

int64_t parseInt(const std::string &flag, const std::string &text, int64_t min,
                 int64_t max) {
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end || errno || v < min || v > max)
    usageError(flag + " expects an integer in [" + std::to_string(min) + ", " +
               std::to_string(max) + "], got '" + text + "'");
  return v;
}

float parseFloat(const std::string &flag, const std::string &text, float min,
                 float max) {
  char *end = nullptr;
  float v = std::strtof(text.c_str(), &end);
  if (text.empty() || *end || !(v >= min && v <= max))
    usageError(flag + " expects a number in [" + std::to_string(min) + ", " +
               std::to_string(max) + "], got '" + text + "'");
  return v;
}

std::vector<int32_t> parseIds(const std::string &text) {
  std::vector<int32_t> ids;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ','))
    ids.push_back(
        static_cast<int32_t>(parseInt("--tokens", item, 0, INT32_MAX)));
  if (ids.empty())
    usageError("--tokens needs at least one id");
  return ids;
}

Options parseArgs(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        usageError(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (arg == "--prompt") {
      o.prompt = value();
      o.havePrompt = true;
    } else if (arg == "--tokens") {
      o.tokenIds = parseIds(value());
      o.haveTokens = true;
    } else if (arg == "--dump-logits") {
      o.dumpLogits = value();
    } else if (arg == "--perplexity") {
      o.perplexity = value();
    } else if (arg == "--kl-divergence") {
      o.klBase = value();
    } else if (arg == "--max-docs") {
      o.documents = parseInt(arg, value(), 0, 1 << 30);
    } else if (arg == "--doc-sep") {
      o.docSep = value();
      if (o.docSep.empty())
        usageError("--doc-sep needs a non-empty separator");
    } else if (arg == "--info") {
      o.info = true;
    } else if (arg == "--device") {
      o.device = value();
      if (o.device != "auto" && !qrt::findBackend(o.device))
        usageError("--device expects " + backendNames() + " or auto, got '" +
                   o.device + "'");
    } else if (arg == "--cuda-profile") {
      o.profile = true;
    } else if (arg == "--bandwidth") {
      o.bandwidth = true;
    } else if (arg == "--cuda-bandwidth") {
      o.bandwidth = true;
      o.device = "cuda";
    } else if (arg == "--no-cuda-graph") {
      o.replayDecode = false;
    } else if (arg == "--mmap") {
      o.mmap = true;
    } else if (arg == "-n" || arg == "--max-new-tokens") {
      o.maxNew = parseInt(arg, value(), 0, 1 << 30);
    } else if (arg == "--temperature") {
      o.temperature = parseFloat(arg, value(), 0, 100);
    } else if (arg == "--top-p") {
      o.topP = parseFloat(arg, value(), 0, 1);
    } else if (arg == "--seed") {
      o.seed = static_cast<uint64_t>(parseInt(arg, value(), 0, INT64_MAX));
    } else if (arg == "--print-ids") {
      o.printIds = true;
    } else if (arg == "--tokenizer") {
      o.tokenizer = value();
    } else if (arg == "--threads") {
      o.threads = static_cast<int>(parseInt(arg, value(), 0, 1024));
    } else if (arg == "--context") {
      o.context = parseInt(arg, value(), 1, int64_t(1) << 24);
    } else if (arg == "--outlier-stats") {
      o.outlierStats = true;
    } else if (arg == "--stats-json") {
      o.statsJson = value();
    } else if (arg == "-q" || arg == "--quiet") {
      o.quiet = true;
    } else if (!arg.empty() && arg[0] == '-') {
      usageError("unknown option " + arg);
    } else if (o.plan.empty()) {
      o.plan = arg;
    } else {
      usageError("more than one plan given ('" + o.plan + "', '" + arg + "')");
    }
  }
  if (o.bandwidth) {
    if (!o.plan.empty())
      usageError(std::string(o.device == "cuda" ? "--cuda-bandwidth"
                                                : "--bandwidth") +
                 " takes no plan");
    return o;
  }
  if (o.plan.empty())
    usageError("no plan given");
  if (o.havePrompt && o.haveTokens)
    usageError("--prompt and --tokens exclude each other");
  if (!o.dumpLogits.empty() && !o.perplexity.empty())
    usageError("--dump-logits and --perplexity exclude each other");
  if (!o.perplexity.empty() && (o.havePrompt || o.haveTokens))
    usageError(
        "--perplexity takes its text from the file, not --prompt/--tokens");
  if (!o.dumpLogits.empty() && !o.havePrompt && !o.haveTokens)
    usageError("--dump-logits needs --prompt or --tokens");
  if (!o.klBase.empty() && o.perplexity.empty())
    usageError("--kl-divergence needs --perplexity FILE (the text both plans "
               "run over)");
  return o;
}


double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since)
      .count();
}

/// The process's own peak resident set in KiB: VmHWM of /proc/self/status.
/// Not getrusage's ru_maxrss, which Linux carries across execve: started
/// from a large process (a Python session, a test runner), quant-run would
/// report its parent's peak.
long peakRssKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0)
      return std::strtol(line.c_str() + 6, nullptr, 10);
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

std::string mib(uint64_t bytes) {
  char buf[32];
  if (bytes < (1u << 20))
    std::snprintf(buf, sizeof(buf), "%.1f KiB", bytes / 1024.0);
  else
    std::snprintf(buf, sizeof(buf), "%.2f MiB", bytes / 1048576.0);
  return buf;
}

/// Writes `bytes` to `path` through a temporary file, so a failure leaves no
/// partial file.
bool writeFileAtomically(const std::string &path, const void *data,
                         size_t bytes, std::string &error) {
  std::string tmp = path + ".tmp";
  FILE *f = std::fopen(tmp.c_str(), "wb");
  if (!f) {
    error = tmp + ": " + std::strerror(errno);
    return false;
  }
  bool ok = std::fwrite(data, 1, bytes, f) == bytes;
  ok &= std::fclose(f) == 0;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = path + ": " + std::strerror(errno);
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

std::string tokenizerPath(const Options &o, const qrt::fb::Plan &plan) {
  if (!o.tokenizer.empty())
    return o.tokenizer;
  if (!plan.model()->tokenizer() || plan.model()->tokenizer()->size() == 0)
    return {};
  std::string named = plan.model()->tokenizer()->str();
  if (named[0] == '/' || access(named.c_str(), R_OK) == 0)
    return named;
  size_t slash = o.plan.rfind('/');
  std::string dir = slash == std::string::npos ? "." : o.plan.substr(0, slash);
  return dir + "/" + named;
}

/// The plan's code per target in words ("cuda: cubin sm_80, sm_90; ptx
/// compute_80; 42 kernels"), or "none".
std::string targetCodeText(const qrt::fb::Plan &plan) {
  std::string text;
  if (plan.targets())
    for (const qrt::fb::TargetCode *code : *plan.targets()) {
      std::string name = code->target()->str();
      const qrt::TargetSupport *support = qrt::findTarget(name);
      std::string description =
          support && support->describe
              ? support->describe(qrt::executableOf(plan, name))
              : std::to_string(code->executable()->size()) +
                    " bytes for a backend this runtime does not have";
      text += (text.empty() ? "" : "; ") + name + ": " + description;
    }
  return text.empty() ? "none" : text;
}

/// What --device would run on, without creating a session.
std::string deviceText(const std::string &device, const qrt::fb::Plan &plan) {
  std::string reason, error;
  const qrt::Backend *backend =
      qrt::chooseBackend(plan, device, reason, error);
  if (!backend)
    return error;
  qrt::BackendProbe probe = backend->probe(plan);
  if (device != "auto" && !probe.usable)
    return device + " unavailable: " + probe.reason;
  std::string text = backend->name;
  if (!probe.device.empty() && backend->name != "cpu")
    text += ", " + probe.device;
  if (device == "auto" && !reason.empty() && backend->name == "cpu")
    text += " (auto: " + reason + ")";
  return text;
}

/// The time per kernel function, most first, to stderr.
void printProfile(const std::vector<qrt::KernelProfile> &profile) {
  double total = 0;
  uint64_t launches = 0;
  for (const qrt::KernelProfile &p : profile)
    launches += p.calls;
  for (const qrt::KernelProfile &p : profile)
    total += p.microseconds;
  std::fprintf(
      stderr,
      "quant-run: kernel profile: %" PRIu64 " launches, %.1f us in kernels\n"
      "%-48s %10s %14s %10s %7s\n",
      launches, total, "function", "calls", "total us", "mean us", "share");
  for (const qrt::KernelProfile &p : profile)
    std::fprintf(stderr, "%-48s %10" PRIu64 " %14.1f %10.2f %6.2f%%\n",
                 p.function.c_str(), p.calls, p.microseconds,
                 p.calls ? p.microseconds / double(p.calls) : 0.0,
                 total > 0 ? 100.0 * p.microseconds / total : 0.0);
}

/// Bad input (a file, the prompt): exit status 2.
int inputError(const std::string &message) {
  std::fprintf(stderr, "quant-run: %s\n", message.c_str());
  return 2;
}

/// A failure while running: exit status 1.
int fail(const std::string &message) {
  std::fprintf(stderr, "quant-run: %s\n", message.c_str());
  return 1;
}

/// --bandwidth: the memory bandwidth of the device's backend.
int measureBandwidth(const Options &o) {
  std::string flag = o.device == "cuda" ? "--cuda-bandwidth" : "--bandwidth";
  const qrt::Backend *backend = qrt::findBackend(o.device);
  if (!backend || !backend->bandwidth)
    return fail(flag + ": the " + o.device +
                " backend measures no bandwidth (use --device cuda)");
  std::string report, error;
  if (!backend->bandwidth(report, error))
    return fail(flag + ": " + error);
  std::printf("%s bandwidth: %s\n", backend->name.c_str(), report.c_str());
  return 0;
}

/// --info: the plan's description and what --device would run it on.
int printInfo(const Options &o, const qrt::LoadedPlan &loaded) {
  const qrt::fb::Plan &plan = loaded.plan();
  const qrt::fb::ModelInfo &model = *plan.model();
  std::printf("plan %s: version %u, producer %s\n", o.plan.c_str(),
              plan.version(), plan.producer() ? plan.producer()->c_str() : "?");
  std::printf("model: %s, dim %d, hidden %d, layers %d, heads %d, kv heads "
              "%d, head dim %d, vocab %d, context %d, bos %d, eos %d\n",
              model.architecture() ? model.architecture()->c_str() : "?",
              model.dim(), model.hidden_dim(), model.layers(), model.heads(),
              model.kv_heads(), model.head_dim(), model.vocab(),
              model.max_context(), model.bos(), model.eos());
  if (loaded.weightless())
    std::printf("weights: %u tensors, weightless: synthesized from seed "
                "%" PRIu64 " at load (%s), for speed measurements only\n",
                plan.weights() ? plan.weights()->size() : 0u,
                static_cast<uint64_t>(plan.weight_seed()),
                mib(loaded.syntheticBytes()).c_str());
  else
    std::printf("weights: %u tensors, %s\n",
                plan.weights() ? plan.weights()->size() : 0u,
                mib(plan.weights_size()).c_str());
  qrt::QuantizedFigures q = qrt::quantizedFigures(plan);
  if (q.matrices)
    std::printf("quantized: %" PRId64 " matrices (%s), %" PRId64
                " weights in %" PRId64 " bytes, %.3f bits/weight\n",
                q.matrices, q.schemes.c_str(), q.elements, q.bytes,
                q.bitsPerWeight());
  for (const qrt::fb::Entry *e : *plan.entries())
    std::printf("entry %s: up to %d tokens, %zu steps, arena %s\n",
                e->name()->c_str(), e->max_tokens(),
                static_cast<size_t>(e->steps()->size()),
                mib(e->arena_bytes()).c_str());
  if (loaded.worldSize() > 1) {
    std::vector<uint64_t> ranks = qrt::rankWeightBytes(plan);
    std::string perRank;
    for (size_t r = 0; r < ranks.size(); ++r)
      perRank += (r ? ", " : "") + std::to_string(r) + ": " + mib(ranks[r]);
    std::printf("tensor parallel: %d ranks (run with mpirun -np %d), "
                "weights per rank %s\n",
                loaded.worldSize(), loaded.worldSize(), perRank.c_str());
  }
  std::printf("tokenizer: %s\n", tokenizerPath(o, plan).c_str());
  std::printf("target code: %s\n", targetCodeText(plan).c_str());
  std::printf("device: %s\n", deviceText(o.device, plan).c_str());
  return 0;
}

/// The tokenizer the run needs (null when token ids go in and out); false
/// with the exit status in `status`.
bool loadTokenizer(const Options &o, const qrt::fb::Plan &plan,
                   std::unique_ptr<qrt::text::Tokenizer> &tokenizer,
                   int &status) {
  // Token ids in and out (--tokens with --print-ids or --dump-logits) need
  // no tokenizer; text does.
  bool needed = !o.haveTokens || !o.perplexity.empty() ||
                (o.dumpLogits.empty() && !o.printIds);
  if (!needed)
    return true;
  std::string path = tokenizerPath(o, plan), error;
  if (path.empty()) {
    status = inputError("the plan names no tokenizer: pass --tokenizer FILE "
                        "(or --tokens IDS with --print-ids)");
    return false;
  }
  tokenizer = qrt::text::loadTokenizer(path, error);
  if (!tokenizer) {
    status = inputError(error);
    return false;
  }
  if (tokenizer->vocabSize() != plan.model()->vocab()) {
    status = inputError("tokenizer " + path + " has " +
                        std::to_string(tokenizer->vocabSize()) +
                        " tokens, the model " +
                        std::to_string(plan.model()->vocab()));
    return false;
  }
  return true;
}

/// The figures every run reports: the device, load time and memory.
void addPlanFigures(qrt::Figures &figures, const Options &o,
                    const qrt::LoadedPlan &loaded, const qrt::Session &session,
                    double loadSeconds) {
  const qrt::fb::Plan &plan = loaded.plan();
  qrt::DeviceInfo device = session.deviceInfo();
  figures.addString("isa", qrt::cpu::isaName());
  figures.addString("device", device.backend);
  if (device.threads > 0) {
    figures.add("threads", static_cast<int64_t>(device.threads));
    figures.addString("integer_kernel", qrt::cpu::int8ActivationKernelName());
  } else
    figures.addString("device_name", device.name);
  figures.add("load_seconds", loadSeconds);
  figures.add("weights_bytes", static_cast<int64_t>(plan.weights_size()));
  figures.addString("weights_memory", loaded.weightHome());
  figures.add("weights_huge_page_bytes",
              static_cast<int64_t>(loaded.weightHugePageBytes()));
  if (loaded.weightless()) {
    figures.add("weightless", int64_t(1));
    figures.add("synthesized_weights_bytes",
                static_cast<int64_t>(loaded.syntheticBytes()));
    if (!o.quiet)
      std::fprintf(stderr,
                   "quant-run: %s is weightless: its weights are synthesized "
                   "from seed %" PRIu64 "; outputs are meaningless, figures "
                   "measure speed only\n",
                   o.plan.c_str(), static_cast<uint64_t>(plan.weight_seed()));
  }
  if (qrt::QuantizedFigures q = qrt::quantizedFigures(plan); q.matrices) {
    figures.add("quantized_matrices", q.matrices);
    figures.add("quantized_bytes", q.bytes);
    figures.add("quantized_bits_per_weight", q.bitsPerWeight());
  }
  figures.add("kv_cache_bytes", static_cast<int64_t>(session.memory().kvCache));
  figures.add("arena_bytes", static_cast<int64_t>(session.memory().arenas));
}

/// "[d/D documents] T tokens, WHAT so far V" on stderr, at most every 2 s
/// and at the end; nothing when quiet. The line ends on destruction.
class Progress {
public:
  Progress(const Options &o, size_t total, const char *what)
      : quiet_(o.quiet), total_(total), what_(what),
        last_(std::chrono::steady_clock::now()) {}
  ~Progress() {
    if (!quiet_)
      std::fputc('\n', stderr);
  }
  void report(size_t done, int64_t tokens, double value) {
    if (quiet_ || (seconds(last_) < 2 && done != total_))
      return;
    last_ = std::chrono::steady_clock::now();
    std::fprintf(stderr,
                 "\r[%zu/%zu documents] %" PRId64 " tokens, %s so far %.6g",
                 done, total_, tokens, what_, value);
  }

private:
  bool quiet_;
  size_t total_;
  const char *what_;
  std::chrono::steady_clock::time_point last_;
};

/// --perplexity: over the documents of the file.
int runPerplexity(const Options &o, qrt::Session &session,
                  const qrt::text::Tokenizer &tokenizer,
                  qrt::Figures &figures) {
  std::vector<std::string> documents;
  std::string error;
  if (!qrt::readDocuments(o.perplexity, o.docSep,
                          static_cast<size_t>(o.documents), documents, error))
    return inputError(error);
  qrt::PerplexityResult result;
  auto began = std::chrono::steady_clock::now();
  bool ok;
  {
    Progress progress(o, documents.size(), "perplexity");
    ok = qrt::evaluatePerplexity(
        session, tokenizer, documents, result, error,
        [&](size_t done, const qrt::PerplexityResult &r) {
          progress.report(done, r.tokens, r.perplexity());
        });
  }
  if (!ok)
    return fail(error);
  double elapsed = seconds(began);
  std::printf("mean NLL: %.6f nats per token\n", result.meanNll());
  std::printf("perplexity: %.6f (%" PRId64 " tokens, %" PRId64
              " documents)\n",
              result.perplexity(), result.tokens, result.documents);
  figures.add("perplexity", result.perplexity());
  figures.add("mean_nll", result.meanNll());
  figures.add("tokens", result.tokens);
  figures.add("documents", result.documents);
  figures.add("seconds", elapsed);
  figures.add("tokens_per_second",
              (result.tokens + result.documents) / elapsed);
  return 0;
}

/// --kl-divergence: the plan against BASE over the documents of
/// --perplexity, both sessions with the same options.
int runKlDivergence(const Options &o, const qrt::SessionOptions &options,
                    qrt::Session &session, const qrt::text::Tokenizer &tokenizer,
                    qrt::Figures &figures) {
  std::string error;
  std::unique_ptr<qrt::LoadedPlan> basePlan =
      qrt::LoadedPlan::openFile(o.klBase, error);
  if (!basePlan)
    return inputError(error);
  // Under mpirun every rank runs the base too: split (this rank's part) or
  // whole (every rank all of it).
  if (options.communicator && basePlan->worldSize() > 1 &&
      !basePlan->selectRank(options.communicator->rank(), error))
    return inputError(o.klBase + ": " + error);
  std::unique_ptr<qrt::Session> base =
      qrt::Session::create(*basePlan, options, error);
  if (!base)
    return fail(o.klBase + ": " + error);
  std::vector<std::string> documents;
  if (!qrt::readDocuments(o.perplexity, o.docSep,
                          static_cast<size_t>(o.documents), documents, error))
    return inputError(error);
  qrt::KlDivergenceResult r;
  auto began = std::chrono::steady_clock::now();
  bool ok;
  {
    Progress progress(o, documents.size(), "KL divergence");
    ok = qrt::evaluateKlDivergence(
        *base, session, tokenizer, documents, r, error,
        [&](size_t done, const qrt::KlDivergenceResult &so) {
          progress.report(done, so.tokens(), so.meanKl());
        });
  }
  if (!ok)
    return fail(error);
  const double elapsed = seconds(began);
  const auto [low, high] = r.deltaPerplexityInterval();
  std::printf("perplexity: %.6f (%" PRId64 " tokens, %" PRId64
              " documents); base %.6f\n",
              r.perplexityPlan(), r.tokens(), r.documents, r.perplexityBase());
  std::printf("KL divergence: %.6f +- %.6f (mean and standard error over %" PRId64
              " tokens), 99th percentile %.6f, top-1 agreement %.4f%%, "
              "delta perplexity %+.6f (95%% CI %+.6f to %+.6f)\n",
              r.meanKl(), r.klStandardError(), r.tokens(), r.klQuantile(0.99),
              100.0 * r.topAgreement(), r.deltaPerplexity(), low, high);
  figures.add("perplexity", r.perplexityPlan());
  figures.add("perplexity_base", r.perplexityBase());
  figures.add("kl_divergence", r.meanKl());
  figures.add("kl_divergence_stderr", r.klStandardError());
  figures.add("kl_divergence_p99", r.klQuantile(0.99));
  figures.add("top1_agreement", r.topAgreement());
  figures.add("delta_perplexity", r.deltaPerplexity());
  figures.add("delta_perplexity_ci_low", low);
  figures.add("delta_perplexity_ci_high", high);
  figures.add("tokens", r.tokens());
  figures.add("documents", r.documents);
  figures.add("seconds", elapsed);
  return 0;
}

/// Generation after the prompt's logits: sample, print, decode.
int generate(const Options &o, qrt::Session &session,
             const qrt::text::Tokenizer *tokenizer,
             const std::vector<int32_t> &prompt, std::vector<float> &logits,
             int32_t eos, qrt::Communicator *communicator,
             qrt::Figures &figures) {
  qrt::Sampler sampler(o.temperature, o.topP, o.seed);
  int32_t previous = prompt.back();
  int64_t generated = 0;
  int64_t vocab = session.vocab();
  std::string error;
  if (!o.printIds && tokenizer) {
    // Echo the prompt, as it continues into the generated text.
    for (size_t i = 0; i < prompt.size(); ++i)
      std::fputs(
          tokenizer->decodeToken(i ? prompt[i - 1] : tokenizer->bos(), prompt[i])
              .c_str(),
          stdout);
  }
  auto began = std::chrono::steady_clock::now();
  while (generated < o.maxNew) {
    int32_t next = sampler.sample(logits.data(), vocab);
    // Tensor parallel: rank 0 decides, every rank feeds its token.
    if (communicator &&
        !communicator->broadcast(&next, sizeof(next), 0, error))
      return fail(error);
    ++generated;
    if (o.printIds)
      std::printf(generated == 1 ? "%d" : " %d", next);
    else
      std::fputs(tokenizer->decodeToken(previous, next).c_str(), stdout);
    std::fflush(stdout);
    if (next == eos || session.position() >= session.context() ||
        generated == o.maxNew)
      break;
    if (!session.forward(&next, 1, logits.data(), false, error))
      return fail(error);
    previous = next;
  }
  std::fputc('\n', stdout);
  std::fflush(stdout);
  double decodeSeconds = seconds(began);
  figures.add("generated_tokens", generated);
  figures.add("decode_seconds", decodeSeconds);
  figures.add("decode_tokens_per_second",
              generated > 1 ? (generated - 1) / decodeSeconds : 0.0);
  return 0;
}

/// --prompt / --tokens: the prompt's logits (dumped with --dump-logits),
/// then generation.
int runPrompt(const Options &o, qrt::Session &session,
              const qrt::text::Tokenizer *tokenizer, int32_t eos,
              qrt::Communicator *communicator, qrt::Figures &figures) {
  std::vector<int32_t> prompt;
  if (o.haveTokens) {
    prompt = o.tokenIds;
  } else {
    prompt.push_back(tokenizer->bos());
    std::vector<int32_t> text = tokenizer->encode(o.prompt);
    prompt.insert(prompt.end(), text.begin(), text.end());
  }
  int64_t count = static_cast<int64_t>(prompt.size());
  int64_t vocab = session.vocab();
  for (int32_t id : prompt)
    if (id >= vocab)
      return inputError("--tokens: id " + std::to_string(id) +
                        " is outside the vocabulary of " +
                        std::to_string(vocab));
  if (count > session.context())
    return inputError("the prompt has " + std::to_string(count) +
                      " tokens, the context " +
                      std::to_string(session.context()));
  bool dump = !o.dumpLogits.empty();
  std::vector<float> logits(static_cast<size_t>((dump ? count : 1) * vocab));
  std::string error;
  auto began = std::chrono::steady_clock::now();
  if (!session.forward(prompt.data(), count, logits.data(), dump, error))
    return fail(error);
  double prefillSeconds = seconds(began);
  figures.add("prompt_tokens", count);
  figures.add("prefill_seconds", prefillSeconds);
  figures.add("prefill_tokens_per_second", count / prefillSeconds);
  if (!dump)
    return generate(o, session, tokenizer, prompt, logits, eos, communicator,
                    figures);
  if (communicator && communicator->rank() != 0)
    return 0; // rank 0 writes the file
  if (!writeFileAtomically(o.dumpLogits, logits.data(),
                           logits.size() * sizeof(float), error))
    return fail(error);
  return 0;
}

/// The figures to stderr (and --stats-json), the profile with
/// --cuda-profile.
int report(const Options &o, const qrt::Session &session,
           qrt::Figures &figures) {
  figures.add("peak_rss_bytes", static_cast<int64_t>(peakRssKb()) * 1024);
  session.addFigures(figures);
  std::fflush(stdout); // results before the figures when both go to a pipe
  if (!o.quiet)
    std::fprintf(stderr, "quant-run: %s\n", figures.line().c_str());
  if (o.profile)
    printProfile(session.profile());
  std::string error;
  if (!o.statsJson.empty() && !figures.writeJson(o.statsJson, error))
    return fail(error);
  return 0;
}

/// A tensor-parallel plan: this process's rank (MPI), its weights selected;
/// ranks other than 0 print nothing. Null (status 0) for an unsplit plan
/// outside an MPI launch.
std::unique_ptr<qrt::Communicator> joinRanks(int *argc, char ***argv,
                                             Options &o,
                                             qrt::LoadedPlan &loaded,
                                             int &status) {
  status = 0;
#ifdef QRT_HAVE_MPI
  if (!qrt::launchedByMpi()) {
    if (loaded.worldSize() > 1)
      status = inputError(o.plan + " is split for " +
                          std::to_string(loaded.worldSize()) +
                          " ranks (tensor parallel): run one process per "
                          "rank, `mpirun -np " +
                          std::to_string(loaded.worldSize()) + " quant-run " +
                          o.plan + " ...`");
    return nullptr;
  }
  std::string error;
  std::unique_ptr<qrt::Communicator> communicator =
      qrt::createMpiCommunicator(argc, argv, error);
  if (!communicator) {
    status = fail(error);
    return nullptr;
  }
  if (communicator->size() == 1 && loaded.worldSize() == 1)
    return nullptr; // an MPI launch of one unsplit rank: nothing to share
  if (communicator->size() != loaded.worldSize()) {
    status = inputError(
        o.plan + " is split for " + std::to_string(loaded.worldSize()) +
        (loaded.worldSize() == 1 ? " rank" : " ranks") + "; this run has " +
        std::to_string(communicator->size()) + ": run `mpirun -np " +
        std::to_string(loaded.worldSize()) + " quant-run " + o.plan +
        " ...`");
    return nullptr;
  }
  if (!loaded.selectRank(communicator->rank(), error)) {
    status = inputError(error);
    return nullptr;
  }
  if (communicator->rank() != 0) {
    o.quiet = true;
    o.statsJson.clear();
    if (!std::freopen("/dev/null", "w", stdout))
      std::fclose(stdout);
  }
  return communicator;
#else
  (void)argc;
  (void)argv;
  if (loaded.worldSize() > 1)
    status = inputError(o.plan + " is split for " +
                        std::to_string(loaded.worldSize()) +
                        " ranks (tensor parallel), and this quant-run was "
                        "built without MPI (install libopenmpi-dev and "
                        "build again)");
  return nullptr;
#endif
}

} // namespace

int main(int argc, char **argv) {
  qrt::registerBuiltinBackends();
  Options o = parseArgs(argc, argv);
  if (o.bandwidth)
    return measureBandwidth(o);
  auto start = std::chrono::steady_clock::now();
  std::string error;
  // CPU sessions stream the weights faster from huge pages than through the
  // file's mapping (qrt/core/WeightMemory.h): the plan is read into a copy
  // there, unless --mmap, --info or --device cuda (which uploads them).
  const qrt::PlanHome home = o.mmap || o.info || o.device == "cuda"
                                 ? qrt::PlanHome::Mapping
                                 : qrt::PlanHome::WeightMemory;
  std::unique_ptr<qrt::LoadedPlan> loaded =
      qrt::LoadedPlan::openFile(o.plan, error, {}, home);
  if (!loaded)
    return inputError(error);
  if (o.info)
    return printInfo(o, *loaded);
  int status = 0;
  std::unique_ptr<qrt::Communicator> communicator =
      joinRanks(&argc, &argv, o, *loaded, status);
  if (status != 0)
    return status;
  double loadSeconds = seconds(start);

  qrt::SessionOptions options;
  options.device = o.device;
  options.threads = o.threads;
  options.context = o.context;
  options.profile = o.profile;
  options.replayDecode = o.replayDecode;
  options.communicator = communicator.get();
  std::unique_ptr<qrt::Session> session =
      qrt::Session::create(*loaded, options, error);
  if (!session)
    return fail((o.device != "auto" ? "--device " + o.device + ": "
                                    : o.plan + ": ") +
                error);
  qrt::DeviceInfo device = session->deviceInfo();
  const qrt::Backend *backend = qrt::findBackend(device.backend);
  if (o.profile && !(backend && backend->profiles))
    return fail("--cuda-profile needs a backend that profiles kernels "
                "(cuda); the session runs on " +
                device.backend +
                (device.reason.empty() ? std::string()
                                       : " (" + device.reason + ")"));
  std::unique_ptr<qrt::text::Tokenizer> tokenizer;
  if (!loadTokenizer(o, loaded->plan(), tokenizer, status))
    return status;

  qrt::Figures figures;
  addPlanFigures(figures, o, *loaded, *session, loadSeconds);
  // LLM.int8() plans on the CPU: the outlier columns of every int8 matmul,
  // counted from the steps' inputs, in quality runs (--perplexity,
  // --kl-divergence) or when asked (--outlier-stats): an observer costs
  // time per step, which speed figures should not include (on a GPU it
  // would copy every step's tensors to the host).
  std::unique_ptr<qrt::OutlierStats> outliers;
  if (device.backend == "cpu" && (o.outlierStats || !o.perplexity.empty()) &&
      qrt::OutlierStats::planHasInt8Matmuls(*loaded)) {
    outliers = std::make_unique<qrt::OutlierStats>();
    session->setObserver(outliers.get());
  }
  status = !o.klBase.empty()
               ? runKlDivergence(o, options, *session, *tokenizer, figures)
           : !o.perplexity.empty()
               ? runPerplexity(o, *session, *tokenizer, figures)
               : runPrompt(o, *session, tokenizer.get(),
                           loaded->plan().model()->eos(), communicator.get(),
                           figures);
  if (status != 0)
    return status;
  if (outliers)
    outliers->addFigures(figures);
  if (communicator) {
    // This rank's share and what its collectives moved.
    const qrt::CollectiveTraffic &t = communicator->traffic();
    figures.add("world_size", static_cast<int64_t>(communicator->size()));
    figures.addString("communicator", communicator->name());
    figures.add("rank_weights_bytes",
                static_cast<int64_t>(
                    qrt::rankWeightBytes(loaded->plan())[loaded->rank()]));
    figures.add("all_reduce_calls", static_cast<int64_t>(t.allReduceCalls));
    figures.add("all_reduce_bytes", static_cast<int64_t>(t.allReduceBytes));
    figures.add("all_gather_calls", static_cast<int64_t>(t.allGatherCalls));
    figures.add("all_gather_bytes", static_cast<int64_t>(t.allGatherBytes));
  }
  return report(o, *session, figures);
}
