//===- Calibration.cpp - calibrated quantization through the runtime ------===//

#include "quant/Quantize/Calibration.h"

#include "qrt/runtime/Generate.h"
#include "qrt/runtime/Session.h"

#include <Eigen/Core>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

using namespace qrt;

namespace quant {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

//===----------------------------------------------------------------------===//
// Units and stages of the plan
//===----------------------------------------------------------------------===//

/// Projections reading one activation: consecutive MatMul steps of the
/// entry with the same input buffer.
struct Unit {
  std::vector<uint32_t> steps;
  std::vector<std::string> names;
  std::vector<uint32_t> weightIndices;
  int64_t layer = 0;
};

/// Units solved after one set of forwards.
struct Stage {
  std::vector<Unit> units;
  uint32_t lastStep = 0;
};

const fb::Entry *largestEntry(const fb::Plan &plan, size_t &index) {
  const fb::Entry *best = nullptr;
  for (uint32_t i = 0; i < plan.entries()->size(); ++i) {
    const fb::Entry *e = plan.entries()->Get(i);
    if (!best || e->max_tokens() > best->max_tokens()) {
      best = e;
      index = i;
    }
  }
  return best;
}

std::string findStages(const fb::Plan &plan, const fb::Entry &entry,
                       const std::vector<std::string> &weights,
                       bool trueSequential, std::vector<Stage> &stages,
                       std::vector<uint32_t> &norms) {
  std::set<std::string> wanted(weights.begin(), weights.end()), found;
  std::vector<Unit> units;
  bool open = false;
  uint64_t openInput = 0;
  for (uint32_t s = 0; s < entry.steps()->size(); ++s) {
    const fb::Step *step = entry.steps()->Get(s);
    if (step->kernel() == fb::Kernel::RmsNorm)
      norms.push_back(s);
    const fb::Buffer *w =
        step->kernel() == fb::Kernel::MatMul ? step->inputs()->Get(1) : nullptr;
    if (!w || w->kind() != fb::BufferKind::Weight) {
      open = false;
      continue;
    }
    uint32_t index = static_cast<uint32_t>(w->offset());
    const fb::WeightInfo *info = plan.weights()->Get(index);
    std::string name = info->name() ? info->name()->str() : std::string();
    if (!wanted.count(name) || found.count(name)) {
      open = false;
      continue;
    }
    found.insert(name);
    uint64_t input = step->inputs()->Get(0)->offset();
    if (!open || input != openInput) {
      units.emplace_back();
      units.back().layer =
          std::max<int64_t>(0, (static_cast<int64_t>(norms.size()) - 1) / 2);
    }
    open = true;
    openInput = input;
    units.back().steps.push_back(s);
    units.back().names.push_back(name);
    units.back().weightIndices.push_back(index);
  }
  for (const std::string &name : weights)
    if (!found.count(name))
      return "weight '" + name +
             "' is not read by a matmul of the calibration plan";
  for (Unit &unit : units) {
    if (stages.empty() || trueSequential ||
        stages.back().units.back().layer != unit.layer)
      stages.emplace_back();
    stages.back().lastStep = unit.steps.back();
    stages.back().units.push_back(std::move(unit));
  }
  return {};
}

//===----------------------------------------------------------------------===//
// Hessians
//===----------------------------------------------------------------------===//

using MatrixRM =
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

constexpr uint32_t kNoStep = ~uint32_t(0);

/// sum += X^T X, lower triangle only: the blocks at and below the diagonal
/// on all threads, each X_i^T X_j of one sample in f32 (hundreds to
/// thousands of terms), added to the f64 sum.
template <typename Matrix> void accumulateGram(const Matrix &X, MatrixRM &sum) {
  const int64_t cols = X.cols(), block = 256;
  const int64_t blocks = (cols + block - 1) / block;
  std::vector<std::pair<int64_t, int64_t>> pairs;
  for (int64_t i = 0; i < blocks; ++i)
    for (int64_t j = 0; j <= i; ++j)
      pairs.push_back({i, j});
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t p = 0; p < pairs.size(); ++p) {
    auto [i, j] = pairs[p];
    int64_t ri = i * block, ni = std::min(cols, ri + block) - ri;
    int64_t cj = j * block, nj = std::min(cols, cj + block) - cj;
    Eigen::MatrixXf product =
        X.middleCols(ri, ni).transpose() * X.middleCols(cj, nj);
    sum.block(ri, cj, ni, nj) += product.cast<double>();
  }
}

/// Runs one sample's forward for the calibration: skips the steps before
/// `resumeStep` and writes `resumeFrom` (the cached input of a layer) into
/// that step's input; accumulates sum x x^T at the first
/// step of each unit of a stage; copies the input of `captureStep` (the
/// next layer's input) to `captureTo`; stops after `stopStep`.
class CalibrationObserver : public StepObserver {
public:
  CalibrationObserver(size_t entry, const Stage *stage, uint32_t stopStep)
      : entry_(entry), stopStep_(stopStep) {
    if (!stage)
      return;
    for (size_t u = 0; u < stage->units.size(); ++u)
      slotOf_[stage->units[u].steps.front()] = u;
    sums_.resize(stage->units.size());
    tokens_.assign(stage->units.size(), 0);
  }

  /// Before each sample.
  void startSample(uint32_t resumeStep, const std::vector<float> *resumeFrom,
                   uint32_t captureStep, std::vector<float> *captureTo) {
    resumeStep_ = resumeStep;
    resumeFrom_ = resumeFrom;
    captureStep_ = captureStep;
    captureTo_ = captureTo;
    stop_ = false;
  }

  bool skipStep(size_t entry, size_t step) override {
    return entry == entry_ && resumeFrom_ && step < resumeStep_;
  }
  void beforeStep(const StepEvent &event) override {
    if (event.entryIndex != entry_ || !error_.empty())
      return;
    const StepTensor &x = event.inputs[0];
    if (event.stepIndex == resumeStep_ && resumeFrom_) {
      if (!x.writable ||
          x.elements() != static_cast<int64_t>(resumeFrom_->size())) {
        error_ = "the calibration cannot resume a forward at step " +
                 std::to_string(resumeStep_) + " (a CPU session writes " +
                 "layer inputs)";
        return;
      }
      std::memcpy(x.writable, resumeFrom_->data(),
                  resumeFrom_->size() * sizeof(float));
    }
    if (event.stepIndex == captureStep_ && captureTo_) {
      const float *v = static_cast<const float *>(x.data);
      captureTo_->assign(v, v + x.elements());
    }
    auto it = slotOf_.find(static_cast<uint32_t>(event.stepIndex));
    if (it == slotOf_.end())
      return;
    int64_t cols = event.weightCols, rows = x.elements() / cols;
    MatrixRM &sum = sums_[it->second];
    if (sum.size() == 0)
      sum.setZero(cols, cols);
    Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic,
                                   Eigen::RowMajor>>
        X(static_cast<const float *>(x.data), rows, cols);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        if (!std::isfinite(X(r, c))) {
          error_ = "the input of '" + event.weight +
                   "' holds a NaN or infinity (token " + std::to_string(r) +
                   ", column " + std::to_string(c) + ")";
          return;
        }
    accumulateGram(X, sum);
    tokens_[it->second] += rows;
  }
  void afterStep(const StepEvent &event) override {
    stop_ = event.entryIndex == entry_ && event.stepIndex == stopStep_;
  }
  bool stopRequested() const override { return stop_ || !error_.empty(); }

  const std::string &error() const { return error_; }
  bool reachedEnd() const { return stop_; }

  /// H = 2/n sum x x^T of unit u (the upper triangle from the lower).
  MatrixRM hessian(size_t u) {
    MatrixRM h = std::move(sums_[u]);
    double scale = tokens_[u] > 0 ? 2.0 / static_cast<double>(tokens_[u]) : 1;
    for (int64_t i = 0; i < h.rows(); ++i) {
      for (int64_t j = 0; j < i; ++j) {
        h(i, j) *= scale;
        h(j, i) = h(i, j);
      }
      h(i, i) *= scale;
    }
    return h;
  }
  int64_t tokens(size_t u) const { return tokens_[u]; }

private:
  size_t entry_;
  uint32_t stopStep_;
  std::map<uint32_t, size_t> slotOf_;
  std::vector<MatrixRM> sums_;
  std::vector<int64_t> tokens_;
  uint32_t resumeStep_ = 0, captureStep_ = kNoStep;
  const std::vector<float> *resumeFrom_ = nullptr;
  std::vector<float> *captureTo_ = nullptr;
  bool stop_ = false;
  std::string error_;
};

/// Writes a float64 [n, n] .npy file.
std::string saveNpy(const std::string &path, const MatrixRM &h) {
  std::ostringstream header;
  header << "{'descr': '<f8', 'fortran_order': False, 'shape': (" << h.rows()
         << ", " << h.cols() << "), }";
  std::string text = header.str();
  size_t total = 10 + text.size() + 1;
  text.append((64 - total % 64) % 64, ' ');
  text += '\n';
  std::ofstream out(path, std::ios::binary);
  uint16_t length = static_cast<uint16_t>(text.size());
  out.write("\x93NUMPY\x01\x00", 8);
  out.write(reinterpret_cast<const char *>(&length), 2);
  out << text;
  out.write(reinterpret_cast<const char *>(h.data()),
            static_cast<std::streamsize>(h.size() * sizeof(double)));
  return out ? std::string() : "cannot write " + path;
}

std::string fileName(const std::string &weight) {
  std::string out = weight;
  for (char &c : out)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
          c == '-'))
      c = '_';
  return out + ".npy";
}

std::string formatSeconds(double s) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.1f s", s);
  return buffer;
}

/// Dequantized values [rows, cols] of a solver result.
std::vector<float> dequantized(const QuantizedWeight &weight,
                               const IntNScheme &scheme) {
  QuantizedView view = weight.view(scheme);
  std::vector<float> out(static_cast<size_t>(view.rows * view.cols));
  dequantizeRows(view, 0, view.rows, out.data());
  return out;
}

} // namespace

//===----------------------------------------------------------------------===//
// Samples
//===----------------------------------------------------------------------===//

std::string calibrationSamples(const CalibrationText &text,
                               const text::Tokenizer &tokenizer,
                               int64_t maxTokens,
                               std::vector<std::vector<int32_t>> &samples) {
  samples.clear();
  std::ifstream in(text.path, std::ios::binary);
  if (!in)
    return "cannot read the calibration text '" + text.path + "'";
  std::string contents((std::istreambuf_iterator<char>(in)),
                       std::istreambuf_iterator<char>());
  if (text.samples <= 0 || text.seqlen < 2 || text.offset < 0)
    return "calibration needs samples > 0, seqlen >= 2 and offset >= 0";
  int64_t length = std::min(text.seqlen, maxTokens);
  std::vector<std::string> documents = splitDocuments(contents, text.docSep, 0);
  if (static_cast<int64_t>(documents.size()) <= text.offset)
    return "the calibration text '" + text.path + "' has " +
           std::to_string(documents.size()) + " documents (separator '" +
           text.docSep +
           "'), none after calibration-offset=" + std::to_string(text.offset);
  auto tokens = [&](size_t d) {
    std::vector<int32_t> t = {tokenizer.bos()};
    std::vector<int32_t> body = tokenizer.encode(documents[d]);
    t.insert(t.end(), body.begin(), body.end());
    return t;
  };
  if (!text.windows) {
    for (size_t d = static_cast<size_t>(text.offset);
         d < documents.size() &&
         static_cast<int64_t>(samples.size()) < text.samples;
         ++d) {
      samples.push_back(tokens(d));
      if (static_cast<int64_t>(samples.back().size()) > length)
        samples.back().resize(static_cast<size_t>(length));
    }
    return {};
  }
  std::vector<int32_t> stream;
  for (size_t d = static_cast<size_t>(text.offset); d < documents.size(); ++d) {
    std::vector<int32_t> t = tokens(d);
    stream.insert(stream.end(), t.begin(), t.end());
  }
  if (static_cast<int64_t>(stream.size()) < length)
    return "the calibration text has " + std::to_string(stream.size()) +
           " tokens after calibration-offset, fewer than one window of " +
           std::to_string(length);
  std::mt19937_64 random(text.seed);
  std::uniform_int_distribution<int64_t> start(
      0, static_cast<int64_t>(stream.size()) - length);
  for (int64_t i = 0; i < text.samples; ++i) {
    int64_t s = start(random);
    samples.emplace_back(stream.begin() + s, stream.begin() + s + length);
  }
  return {};
}

//===----------------------------------------------------------------------===//
// Sequential GPTQ
//===----------------------------------------------------------------------===//

std::string runGptq(LoadedPlan &plan,
                    const std::vector<std::vector<int32_t>> &samples,
                    const std::vector<std::string> &weights, const GptqRun &run,
                    std::vector<GptqResult> &results) {
  results.clear();
  if (samples.empty())
    return "no calibration samples";
  size_t entryIndex = 0;
  const fb::Entry *entry = largestEntry(plan.plan(), entryIndex);
  if (!entry)
    return "the calibration plan has no entry";
  std::vector<Stage> stages;
  std::vector<uint32_t> norms;
  std::string error = findStages(plan.plan(), *entry, weights,
                                 run.trueSequential, stages, norms);
  if (!error.empty())
    return error;

  SessionOptions options;
  options.device = "cpu";
  options.threads = run.solver.threads;
  std::unique_ptr<Session> session = Session::create(plan, options, error);
  if (!session)
    return "cannot run the calibration plan: " + error;
  const int64_t chunk =
      std::min<int64_t>(entry->max_tokens(), session->context());
  const int64_t layers =
      stages.empty() ? 0 : stages.back().units.back().layer + 1;
  // Layer l starts at its input norm, norms[2 l] (the final norm for l =
  // the number of layers: the output projection's stage).
  auto layerStart = [&](int64_t layer) {
    return 2 * layer < static_cast<int64_t>(norms.size()) ? norms[2 * layer]
                                                          : kNoStep;
  };
  // The input of the current layer for every sample (none for layer 0,
  // which runs from the embedding): one layer's activations.
  std::vector<std::vector<float>> cache(samples.size());
  int64_t cachedLayer = 0;
  auto forwardAll =
      [&](CalibrationObserver &observer, int64_t layer, uint32_t captureStep,
          std::vector<std::vector<float>> *captured) -> std::string {
    session->setObserver(&observer);
    for (size_t i = 0; i < samples.size(); ++i) {
      int64_t count = std::min<int64_t>(chunk, samples[i].size());
      session->reset();
      bool resume = layer > 0 && layerStart(layer) != kNoStep;
      observer.startSample(layerStart(layer), resume ? &cache[i] : nullptr,
                           captureStep, captured ? &(*captured)[i] : nullptr);
      std::string forwardError;
      bool ok = session->forward(samples[i].data(), count, nullptr, false,
                                 forwardError);
      if (!observer.error().empty())
        return observer.error();
      if (!ok && !(forwardError == kStoppedByObserver && observer.reachedEnd()))
        return "a calibration forward failed: " + forwardError;
    }
    session->setObserver(nullptr);
    return {};
  };
  IntNScheme stored = storedScheme(run.solver);

  Clock::time_point begin = Clock::now();
  for (size_t s = 0; s < stages.size(); ++s) {
    const Stage &stage = stages[s];
    const int64_t layer = stage.units.front().layer;
    // The inputs of the stage's layer, from the quantized layers before it:
    // each earlier layer's output, computed once when its last stage is
    // done (the GPTQ reference keeps them so too).
    Clock::time_point forwardStart = Clock::now();
    while (cachedLayer < layer) {
      std::vector<std::vector<float>> next(samples.size());
      uint32_t capture = layerStart(cachedLayer + 1);
      CalibrationObserver advance(entryIndex, nullptr, capture);
      if (!(error = forwardAll(advance, cachedLayer, capture, &next)).empty())
        return error;
      cache.swap(next);
      ++cachedLayer;
    }
    // Forwards of the stage's layer, up to the stage's last step.
    CalibrationObserver observer(entryIndex, &stage, stage.lastStep);
    if (!(error = forwardAll(observer, layer, kNoStep, nullptr)).empty())
      return error;
    double forwardSeconds = secondsSince(forwardStart);

    std::string names;
    for (size_t u = 0; u < stage.units.size(); ++u) {
      const Unit &unit = stage.units[u];
      MatrixRM h = observer.hessian(u);
      // One prepared Hessian for the unit's weights (its time counts in the
      // first weight's solve).
      if (!run.saveHessians.empty())
        for (const std::string &name : unit.names)
          if (!(error = saveNpy(run.saveHessians + "/" + fileName(name), h))
                   .empty())
            return error;
      GptqHessian prepared;
      Clock::time_point prepareStart = Clock::now();
      if (h.rows() > 0 && !(error = prepareGptqHessian(run.solver, h.data(),
                                                       h.rows(), prepared))
                               .empty())
        return "the input of '" + unit.names.front() + "': " + error;
      double prepareSeconds = secondsSince(prepareStart);
      if (!run.compareRtn) // only the report's errors read H again
        h.resize(0, 0);
      for (size_t i = 0; i < unit.names.size(); ++i) {
        const std::string &name = unit.names[i];
        names += (names.empty() ? "" : ", ") + name;
        const fb::WeightInfo *info =
            plan.plan().weights()->Get(unit.weightIndices[i]);
        if (info->tensor()->dtype() != fb::DType::F32 ||
            info->tensor()->dims()->size() != 2)
          return "weight '" + name +
                 "' is not an f32 matrix in the calibration plan";
        GptqResult r;
        r.name = name;
        r.stage = static_cast<int64_t>(s);
        r.layer = unit.layer;
        r.rows = info->tensor()->dims()->Get(0);
        r.cols = info->tensor()->dims()->Get(1);
        r.tokens = observer.tokens(u);
        r.forwardSeconds = forwardSeconds;
        if (prepared.cols() != r.cols)
          return "weight '" + name + "': the calibration saw no input";
        float *w =
            static_cast<float *>(plan.mutableWeight(unit.weightIndices[i]));
        if (!w)
          return "the calibration plan's weights are not writable";
        Clock::time_point solveStart = Clock::now();
        error = quantizeGptq(run.solver, w, r.rows, r.cols, prepared, r.weight,
                             r.stats);
        if (!error.empty())
          return "weight '" + name + "': " + error;
        std::vector<float> q = dequantized(r.weight, stored);
        r.solveSeconds =
            secondsSince(solveStart) + (i == 0 ? prepareSeconds : 0);
        if (run.compareRtn) {
          r.gptqError = outputError(w, q.data(), r.rows, r.cols, h.data());
          QuantizedWeight rtn;
          std::vector<double> diag(h.diagonal().data(),
                                   h.diagonal().data() + r.cols);
          IntNScheme plain = run.solver.scheme;
          plain.actOrder = false;
          error = quantizeGptqRtn(plain, run.solver.clipSearch, w, r.rows,
                                  r.cols, diag.data(), rtn);
          if (!error.empty())
            return "weight '" + name + "': " + error;
          std::vector<float> rq = dequantized(rtn, plain);
          r.rtnError = outputError(w, rq.data(), r.rows, r.cols, h.data());
        }
        std::copy(q.begin(), q.end(), w);
        results.push_back(std::move(r));
      }
    }
    if (run.progress) {
      double elapsed = secondsSince(begin);
      double eta = elapsed / double(s + 1) * double(stages.size() - s - 1);
      run.progress("gptq: stage " + std::to_string(s + 1) + "/" +
                   std::to_string(stages.size()) + ", layer " +
                   std::to_string(stage.units.front().layer + 1) + "/" +
                   std::to_string(layers) + " [" + names + "]: forward " +
                   formatSeconds(forwardSeconds) + ", elapsed " +
                   formatSeconds(elapsed) + ", ETA " + formatSeconds(eta));
    }
  }
  return {};
}

} // namespace quant
