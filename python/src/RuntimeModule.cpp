//===- RuntimeModule.cpp - quant_opt._runtime (pybind11) ------------------===//
//
// The runtime half of the Python package: plans, sessions, tokenizers,
// generation, perplexity and KL divergence, over the C++ runtime (no MLIR).
// The Python layer (python/quant_opt/__init__.py) adds keyword defaults,
// docstrings and the streaming/non-streaming forms. Every long call releases
// the GIL; errors are quant_opt.Error (a RuntimeError) with the runtime's
// message.
//
//===----------------------------------------------------------------------===//

#include "qrt/core/Plan.h"
#include "qrt/cpu/Kernels.h"
#include "qrt/runtime/Backend.h"
#include "qrt/runtime/Figures.h"
#include "qrt/runtime/Generate.h"
#include "qrt/runtime/Session.h"
#include "qrt/text/Tokenizer.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <fstream>
#include <string_view>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

namespace py = pybind11;

namespace {

/// Every failure the runtime reports; quant_opt.Error in Python.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A verified plan in memory (or mapped from a file), shared by the
/// sessions over it.
struct Plan {
  std::shared_ptr<qrt::LoadedPlan> loaded;
  /// The plan's directory, where a tokenizer it names relative is found.
  std::string directory = ".";

  static std::shared_ptr<Plan> load(const std::string &path, bool mmap) {
    std::string error;
    std::unique_ptr<qrt::LoadedPlan> loaded;
    {
      py::gil_scoped_release release;
      loaded = qrt::LoadedPlan::openFile(
          path, error, {},
          mmap ? qrt::PlanHome::Mapping : qrt::PlanHome::WeightMemory);
    }
    if (!loaded)
      throw Error(error);
    auto plan = std::make_shared<Plan>();
    plan->loaded = std::move(loaded);
    size_t slash = path.rfind('/');
    if (slash != std::string::npos)
      plan->directory = path.substr(0, slash);
    return plan;
  }

  static std::shared_ptr<Plan> fromBytes(const py::bytes &bytes,
                                         const std::string &name) {
    std::string_view data = bytes;
    std::vector<uint8_t> copy(data.begin(), data.end());
    std::string error;
    std::unique_ptr<qrt::LoadedPlan> loaded;
    {
      py::gil_scoped_release release;
      loaded = qrt::LoadedPlan::openMemory(std::move(copy), error, {}, name);
    }
    if (!loaded)
      throw Error(error);
    auto plan = std::make_shared<Plan>();
    plan->loaded = std::move(loaded);
    return plan;
  }

  py::bytes bytes() const {
    return py::bytes(reinterpret_cast<const char *>(loaded->data()),
                     loaded->size());
  }

  /// Writes the plan's bytes to `path` through a temporary file: no partial
  /// file on failure.
  void save(const std::string &path) const {
    std::string tmp = path + ".tmp";
    {
      py::gil_scoped_release release;
      std::ofstream out(tmp, std::ios::binary);
      out.write(reinterpret_cast<const char *>(loaded->data()),
                static_cast<std::streamsize>(loaded->size()));
      out.close();
      if (!out) {
        std::remove(tmp.c_str());
        throw Error(path + ": cannot write");
      }
      if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw Error(path + ": cannot write");
      }
    }
  }

  /// The model's description and the storage figures.
  py::dict info() const {
    const qrt::fb::Plan &plan = loaded->plan();
    const qrt::fb::ModelInfo *model = plan.model();
    py::dict d;
    d["name"] = loaded->name();
    d["bytes"] = loaded->size();
    d["weights_bytes"] = plan.weights_size();
    d["weightless"] = loaded->weightless();
    d["vocab"] = model->vocab();
    d["dim"] = model->dim();
    d["hidden_dim"] = model->hidden_dim();
    d["layers"] = model->layers();
    d["heads"] = model->heads();
    d["kv_heads"] = model->kv_heads();
    d["context"] = model->max_context();
    d["head_dim"] = model->head_dim();
    d["architecture"] = model->architecture() ? model->architecture()->str() : "";
    d["bos"] = model->bos();
    d["eos"] = model->eos();
    d["tokenizer"] = model->tokenizer() ? model->tokenizer()->str() : "";
    qrt::QuantizedFigures q = qrt::quantizedFigures(plan);
    d["quantized_matrices"] = q.matrices;
    d["quantized_weights"] = q.elements;
    d["quantized_bytes"] = q.bytes;
    d["quantized_bits_per_weight"] =
        q.elements ? 8.0 * static_cast<double>(q.bytes) / q.elements : 0.0;
    d["schemes"] = q.schemes;
    return d;
  }
};

class Tokenizer {
public:
  explicit Tokenizer(std::unique_ptr<qrt::text::Tokenizer> t)
      : t_(std::move(t)) {}
  static std::shared_ptr<Tokenizer> load(const std::string &path) {
    std::string error;
    std::unique_ptr<qrt::text::Tokenizer> t =
        qrt::text::loadTokenizer(path, error);
    if (!t)
      throw Error(error);
    return std::make_shared<Tokenizer>(std::move(t));
  }
  std::vector<int32_t> encode(const std::string &text, bool bos) const {
    std::vector<int32_t> ids;
    if (bos)
      ids.push_back(t_->bos());
    std::vector<int32_t> rest = t_->encode(text);
    ids.insert(ids.end(), rest.begin(), rest.end());
    return ids;
  }
  /// The text of `ids` as generation prints it: each token decoded after
  /// the one before (BOS before the first).
  std::string decode(const std::vector<int32_t> &ids) const {
    std::string text;
    int32_t previous = t_->bos();
    for (int32_t id : ids) {
      check(id);
      text += t_->decodeToken(previous, id);
      previous = id;
    }
    return text;
  }
  std::string decodeToken(int32_t previous, int32_t id) const {
    check(previous);
    check(id);
    return t_->decodeToken(previous, id);
  }
  int32_t vocabSize() const { return t_->vocabSize(); }
  int32_t bos() const { return t_->bos(); }
  int32_t eos() const { return t_->eos(); }
  const qrt::text::Tokenizer &get() const { return *t_; }

private:
  void check(int32_t id) const {
    if (id < 0 || id >= t_->vocabSize())
      throw py::value_error("token id " + std::to_string(id) +
                            " is outside the vocabulary of " +
                            std::to_string(t_->vocabSize()));
  }
  std::unique_ptr<qrt::text::Tokenizer> t_;
};

class Session {
public:
  Session(std::shared_ptr<Plan> plan, const std::string &device, int threads,
          std::shared_ptr<Tokenizer> tokenizer)
      : plan_(std::move(plan)), tokenizer_(std::move(tokenizer)) {
    qrt::SessionOptions options;
    options.device = device;
    options.threads = threads;
    std::string error;
    {
      py::gil_scoped_release release;
      session_ = qrt::Session::create(*plan_->loaded, options, error);
    }
    if (!session_)
      throw Error(error);
  }

  int64_t vocab() const { return session_->vocab(); }
  int64_t context() const { return session_->context(); }
  std::shared_ptr<Plan> plan() const { return plan_; }

  /// The session's tokenizer: the one given, else the plan's (relative to
  /// the plan's directory), loaded on first use.
  std::shared_ptr<Tokenizer> tokenizer() {
    if (tokenizer_)
      return tokenizer_;
    const qrt::fb::ModelInfo *model = plan_->loaded->plan().model();
    if (!model->tokenizer() || model->tokenizer()->size() == 0)
      throw Error("the plan names no tokenizer: pass tokenizer=PATH");
    std::string named = model->tokenizer()->str();
    std::string path = named[0] == '/' || access(named.c_str(), R_OK) == 0
                           ? named
                           : plan_->directory + "/" + named;
    tokenizer_ = Tokenizer::load(path);
    if (tokenizer_->vocabSize() != vocab())
      throw Error("tokenizer " + path + " has " +
                  std::to_string(tokenizer_->vocabSize()) +
                  " tokens, the model " + std::to_string(vocab()));
    return tokenizer_;
  }

  /// The logits [T, vocab] of every token of `ids`, run from position 0.
  py::array_t<float> logits(const std::vector<int32_t> &ids) {
    if (ids.empty())
      throw py::value_error("logits() needs at least one token id");
    const int64_t count = static_cast<int64_t>(ids.size());
    if (count > context())
      throw py::value_error(std::to_string(count) +
                            " tokens exceed the context of " +
                            std::to_string(context()));
    py::array_t<float> out({count, vocab()});
    float *data = out.mutable_data();
    std::string error;
    bool ok;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      session_->reset();
      ok = session_->forward(ids.data(), count, data, true, error);
      session_->reset();
    }
    if (!ok)
      throw Error(error);
    return out;
  }

  py::dict perplexity(const std::string &path, const std::string &docSep,
                      int64_t maxDocs) {
    std::vector<std::string> documents = readDocuments(path, docSep, maxDocs);
    std::shared_ptr<Tokenizer> t = tokenizer();
    qrt::PerplexityResult r;
    std::string error;
    bool ok;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      ok = qrt::evaluatePerplexity(*session_, t->get(), documents, r, error);
    }
    if (!ok)
      throw Error(error);
    py::dict d;
    d["perplexity"] = r.perplexity();
    d["mean_nll"] = r.meanNll();
    d["tokens"] = r.tokens;
    d["documents"] = r.documents;
    return d;
  }

  py::dict klDivergence(Session &base, const std::string &path,
                        const std::string &docSep, int64_t maxDocs) {
    std::vector<std::string> documents = readDocuments(path, docSep, maxDocs);
    std::shared_ptr<Tokenizer> t = tokenizer();
    qrt::KlDivergenceResult r;
    std::string error;
    bool ok;
    if (&base == this)
      throw py::value_error("kl_divergence: the base must be another session");
    {
      py::gil_scoped_release release;
      std::scoped_lock lock(base.mutex_, mutex_);
      ok = qrt::evaluateKlDivergence(*base.session_, *session_, t->get(),
                                     documents, r, error);
    }
    if (!ok)
      throw Error(error);
    auto [low, high] = r.deltaPerplexityInterval();
    py::dict d;
    d["kl_divergence"] = r.meanKl();
    d["kl_divergence_stderr"] = r.klStandardError();
    d["kl_divergence_p99"] = r.klQuantile(0.99);
    d["top1_agreement"] = r.topAgreement();
    d["perplexity"] = r.perplexityPlan();
    d["perplexity_base"] = r.perplexityBase();
    d["delta_perplexity"] = r.deltaPerplexity();
    d["delta_perplexity_ci"] = py::make_tuple(low, high);
    d["tokens"] = r.tokens();
    d["documents"] = r.documents;
    return d;
  }

  /// Device, threads, memory, and the figures the backend keeps.
  py::dict stats() const {
    py::dict d;
    qrt::DeviceInfo device = session_->deviceInfo();
    d["device"] = device.backend;
    d["device_name"] = device.name;
    d["description"] = device.description;
    d["threads"] = device.threads;
    d["isa"] = qrt::cpu::isaName();
    if (device.threads > 0)
      d["integer_kernel"] = qrt::cpu::int8ActivationKernelName();
    qrt::SessionMemory memory = session_->memory();
    d["arena_bytes"] = memory.arenas;
    d["kv_cache_bytes"] = memory.kvCache;
    d["device_weights_bytes"] = memory.weights;
    qrt::Figures figures;
    session_->addFigures(figures);
    for (const auto &[key, value] : figures.items())
      d[py::str(key)] = py::module_::import("json").attr("loads")(value);
    return d;
  }

  qrt::Session &get() { return *session_; }
  /// Held while the session runs: a session is not re-entrant, and with the
  /// GIL released two Python threads could otherwise run it at once.
  std::mutex &mutex() { return mutex_; }

private:
  static std::vector<std::string> readDocuments(const std::string &path,
                                                const std::string &docSep,
                                                int64_t maxDocs) {
    if (docSep.empty())
      throw py::value_error("doc_sep must not be empty");
    if (maxDocs < 0)
      throw py::value_error("max_docs must be >= 0 (0: all)");
    std::vector<std::string> documents;
    std::string error;
    if (!qrt::readDocuments(path, docSep, static_cast<size_t>(maxDocs),
                            documents, error))
      throw Error(error);
    return documents;
  }

  std::shared_ptr<Plan> plan_;
  std::shared_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<qrt::Session> session_;
  std::mutex mutex_;
};

/// Generation as quant-run does it: the prompt's logits, then sample, yield
/// the piece, decode, until EOS, the context or max_new_tokens.
class Generator {
public:
  Generator(std::shared_ptr<Session> session, std::vector<int32_t> prompt,
            int64_t maxNew, float temperature, float topP, uint64_t seed)
      : session_(std::move(session)), tokenizer_(session_->tokenizer()),
        sampler_(temperature, topP, seed), prompt_(std::move(prompt)),
        maxNew_(maxNew) {
    if (prompt_.empty())
      throw py::value_error("the prompt has no tokens");
    if (static_cast<int64_t>(prompt_.size()) > session_->context())
      throw py::value_error("the prompt has " + std::to_string(prompt_.size()) +
                            " tokens, the context " +
                            std::to_string(session_->context()));
    eos_ = session_->plan()->loaded->plan().model()->eos();
  }

  /// The next piece of text; py::stop_iteration at the end.
  std::string next() {
    if (done_ || generated_ >= maxNew_)
      throw py::stop_iteration();
    qrt::Session &s = session_->get();
    std::string error;
    const int64_t vocab = s.vocab();
    int32_t token = 0;
    bool ok = true;
    {
      py::gil_scoped_release release;
      // A generation owns the session's position from its first token on:
      // another call in between (logits, a second generator) resets it.
      std::lock_guard<std::mutex> lock(session_->mutex());
      if (started_ && s.position() != position_) {
        error = "the session ran something else during this generation "
                "(one generation at a time per session)";
        ok = false;
      } else if (!started_) {
        logits_.resize(static_cast<size_t>(vocab));
        s.reset();
        ok = s.forward(prompt_.data(), static_cast<int64_t>(prompt_.size()),
                       logits_.data(), false, error);
        previous_ = prompt_.back();
        started_ = true;
      } else if (ok) {
        ok = s.forward(&previous_, 1, logits_.data(), false, error);
      }
      if (ok) {
        token = sampler_.sample(logits_.data(), vocab);
        position_ = s.position();
      }
    }
    if (!ok) {
      done_ = true;
      throw Error(error);
    }
    ++generated_;
    std::string piece = tokenizer_->decodeToken(previous_, token);
    if (token == eos_ || s.position() >= s.context())
      done_ = true;
    previous_ = token;
    return piece;
  }

private:
  std::shared_ptr<Session> session_;
  std::shared_ptr<Tokenizer> tokenizer_;
  qrt::Sampler sampler_;
  std::vector<int32_t> prompt_;
  std::vector<float> logits_;
  int64_t maxNew_, generated_ = 0, position_ = 0;
  int32_t previous_ = 0, eos_ = 2;
  bool started_ = false, done_ = false;
};

} // namespace

PYBIND11_MODULE(_runtime, m) {
  m.doc() = "quant-opt's runtime (C++): plans, sessions, tokenizers";
  qrt::registerBuiltinBackends();
  static py::exception<Error> error(m, "Error", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p)
        std::rethrow_exception(p);
    } catch (const Error &e) {
      error(e.what());
    }
  });

  py::class_<Plan, std::shared_ptr<Plan>>(m, "Plan")
      .def_static("load", &Plan::load, py::arg("path"),
                  py::arg("mmap") = false)
      .def_static("from_bytes", &Plan::fromBytes, py::arg("data"),
                  py::arg("name") = "<memory>")
      .def("to_bytes", &Plan::bytes)
      .def("save", &Plan::save, py::arg("path"))
      .def_property_readonly("info", &Plan::info)
      .def_property_readonly("name",
                             [](const Plan &p) { return p.loaded->name(); })
      .def_property_readonly("weights_memory", [](const Plan &p) {
        return std::string(p.loaded->weightHome());
      });

  py::class_<Tokenizer, std::shared_ptr<Tokenizer>>(m, "Tokenizer")
      .def_static("load", &Tokenizer::load, py::arg("path"))
      .def("encode", &Tokenizer::encode, py::arg("text"),
           py::arg("bos") = false)
      .def("decode", &Tokenizer::decode, py::arg("ids"))
      .def("decode_token", &Tokenizer::decodeToken, py::arg("previous"),
           py::arg("token"))
      .def_property_readonly("vocab_size", &Tokenizer::vocabSize)
      .def_property_readonly("bos", &Tokenizer::bos)
      .def_property_readonly("eos", &Tokenizer::eos);

  py::class_<Session, std::shared_ptr<Session>>(m, "Session")
      .def(py::init<std::shared_ptr<Plan>, const std::string &, int,
                    std::shared_ptr<Tokenizer>>(),
           py::arg("plan"), py::arg("device"), py::arg("threads"),
           py::arg("tokenizer"))
      .def_property_readonly("vocab", &Session::vocab)
      .def_property_readonly("context", &Session::context)
      .def_property_readonly("plan", &Session::plan)
      .def_property_readonly("tokenizer", &Session::tokenizer)
      .def("logits", &Session::logits, py::arg("token_ids"))
      .def("perplexity", &Session::perplexity, py::arg("path"),
           py::arg("doc_sep"), py::arg("max_docs"))
      .def("kl_divergence", &Session::klDivergence, py::arg("base"),
           py::arg("path"), py::arg("doc_sep"), py::arg("max_docs"))
      .def_property_readonly("stats", &Session::stats);

  py::class_<Generator>(m, "Generator")
      .def(py::init<std::shared_ptr<Session>, std::vector<int32_t>, int64_t,
                    float, float, uint64_t>(),
           py::arg("session"), py::arg("prompt_ids"), py::arg("max_new_tokens"),
           py::arg("temperature"), py::arg("top_p"), py::arg("seed"))
      .def("__iter__", [](Generator &g) -> Generator & { return g; })
      .def("__next__", &Generator::next);

  m.def("isa", [] { return std::string(qrt::cpu::isaName()); });
  m.def("backends", [] {
    std::vector<std::string> names;
    for (const qrt::Backend *b : qrt::registeredBackends())
      names.push_back(b->name);
    return names;
  });
}
