//===- StepRows.cpp - which token rows each step of a forward needs -------===//

#include "qrt/runtime/StepRows.h"

#include "qrt/core/PlanSchema.h"

#include <algorithm>

namespace qrt {

int64_t rowElements(const fb::TensorInfo &tensor) {
  if (!tensor.dims())
    return 0;
  int64_t row = 1;
  bool seen = false;
  for (int64_t d : *tensor.dims()) {
    if (d == -1) {
      if (seen)
        return 0;
      seen = true;
    } else if (seen) {
      row *= d;
    } else if (d != 1) {
      return 0;
    }
  }
  return seen ? row : 0;
}

namespace {

/// A region of the arena whose current value a later step reads.
struct Live {
  uint64_t begin, end;
  Rows rows;
};

bool overlaps(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  return a < d && c < b;
}

/// Whether output row t of the kernel depends only on input row t (of
/// every input but Attention's keys and values, which it reads whole).
bool rowWise(fb::Kernel kernel) {
  switch (kernel) {
  case fb::Kernel::Embedding:
  case fb::Kernel::RmsNorm:
  case fb::Kernel::MatMul:
  case fb::Kernel::DequantMatMul:
  case fb::Kernel::Rotary:
  case fb::Kernel::Attention:
  case fb::Kernel::Add:
  case fb::Kernel::SwiGlu:
  case fb::Kernel::Gather:
  case fb::Kernel::AllReduce:
  case fb::Kernel::AllGather:
    return true;
  case fb::Kernel::Int8MatMul: // the outlier columns come from every row
    return false;
  }
  return false;
}

} // namespace

std::vector<Rows> stepRows(const fb::Entry &entry, Rows logits) {
  const auto *steps = entry.steps();
  const size_t n = steps ? steps->size() : 0;
  std::vector<Rows> rows(n, Rows::All);
  const int64_t tokens = std::max(1, entry.max_tokens());
  auto extent = [&](const fb::Buffer &b) {
    uint64_t bytes = b.tensor() ? tensorElements(*b.tensor(), tokens) *
                                      dtypeBytes(b.tensor()->dtype())
                                : 0;
    return std::make_pair(b.offset(), b.offset() + bytes);
  };
  auto arena = [](const fb::Buffer *b) {
    return b && b->kind() == fb::BufferKind::Arena;
  };

  std::vector<Live> live;
  if (logits != Rows::None && arena(entry.logits())) {
    auto [begin, end] = extent(*entry.logits());
    live.push_back({begin, end, logits});
  }
  for (size_t i = n; i-- > 0;) {
    const fb::Step &step = *steps->Get(static_cast<uint32_t>(i));
    const bool attention = step.kernel() == fb::Kernel::Attention;
    Rows need = Rows::None;
    bool lastOk = rowWise(step.kernel());
    if (step.outputs())
      for (const fb::Buffer *out : *step.outputs()) {
        if (!arena(out) || !out->tensor()) {
          need = Rows::All;
          continue;
        }
        auto [begin, end] = extent(*out);
        for (const Live &l : live)
          if (overlaps(begin, end, l.begin, l.end))
            need = std::max(need, l.rows);
        // The value before this step is another one: readers of it are
        // earlier (regions only partly overwritten stay, conservatively).
        live.erase(std::remove_if(live.begin(), live.end(),
                                  [&](const Live &l) {
                                    return l.begin >= begin && l.end <= end;
                                  }),
                   live.end());
        const int64_t outRow = rowElements(*out->tensor());
        lastOk = lastOk && outRow > 0;
        if (step.inputs())
          for (uint32_t j = 0; j < step.inputs()->size(); ++j) {
            const fb::Buffer *in = step.inputs()->Get(j);
            if (!arena(in) || !in->tensor() || (attention && j > 0))
              continue;
            auto [inBegin, inEnd] = extent(*in);
            const int64_t inRow = rowElements(*in->tensor());
            // In place is fine row by row; any other overlap is not.
            const bool inPlace =
                in->offset() == out->offset() && inRow == outRow;
            lastOk = lastOk && inRow > 0 &&
                     (inPlace || !overlaps(begin, end, inBegin, inEnd));
          }
      }
    if (need == Rows::Last && !lastOk)
      need = Rows::All;
    if (!step.outputs() || step.outputs()->size() == 0)
      need = Rows::All;
    rows[i] = need;
    if (step.inputs())
      for (uint32_t j = 0; j < step.inputs()->size(); ++j) {
        const fb::Buffer *in = step.inputs()->Get(j);
        if (!arena(in))
          continue;
        // Attention appends every row's key and value to the cache.
        Rows r = (attention && j > 0) || (need != Rows::None && !lastOk)
                     ? Rows::All
                     : need;
        if (r == Rows::None)
          continue;
        auto [begin, end] = extent(*in);
        live.push_back({begin, end, r});
      }
  }
  return rows;
}

} // namespace qrt
