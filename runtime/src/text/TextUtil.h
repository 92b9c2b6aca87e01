//===- TextUtil.h - Helpers shared by the tokenizers -----------*- C++ -*-===//
//
// Private to QuantRuntimeText: file reading with messages that name the
// file, UTF-8 character splitting, byte pieces, and the pair-merge loop that
// both BPE flavours (llama2.c scores, Hugging Face merge ranks) run.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_TEXT_TEXTUTIL_H
#define QRT_TEXT_TEXTUTIL_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <vector>

namespace qrt::text::detail {

/// "tokenizer 'PATH': " - the prefix of every load error.
std::string errorPrefix(const std::string &path);

/// Reads the whole file; on failure sets `error` (prefixed) and returns false.
bool readFile(const std::string &path, std::string &contents,
              std::string &error);

/// Length of the UTF-8 character at `text[pos]`: the lead byte and the
/// continuation bytes (10xxxxxx) after it, at most 4 bytes in all. Invalid
/// UTF-8 (a stray continuation byte, a truncated sequence) still advances by
/// at least one byte, so every byte of the text belongs to one "character".
size_t utf8CharLength(std::string_view text, size_t pos);

/// The byte of a byte-fallback piece "<0xHH>" (hex digits in either case),
/// or -1 when `piece` is not one.
int parseBytePiece(std::string_view piece);

/// The byte-fallback piece "<0xHH>" (upper-case hex) of `byte`.
std::string bytePiece(unsigned char byte);

/// SentencePiece's word-boundary symbol U+2581 "▁".
inline constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";

/// `piece` with every kSpaceSymbol replaced by a space (a piece's text).
std::string pieceText(std::string_view piece);

/// A merge of two adjacent symbols: the merged symbol's id, and its priority
/// (lower merges first).
struct MergeCandidate {
  double priority;
  int32_t merged;
};

/// Repeatedly merges the adjacent pair with the lowest priority (the
/// leftmost one among equal priorities) until no pair merges; `lookup(left,
/// right)` returns the merge of two symbol ids, if any. Equivalent to
/// rescanning all pairs after each merge, in O(n log n): candidates sit in a
/// heap and stale ones (a side already merged away) are skipped when popped.
template <typename Lookup>
std::vector<int32_t> mergePairs(std::vector<int32_t> ids, Lookup lookup) {
  const ptrdiff_t n = static_cast<ptrdiff_t>(ids.size());
  if (n < 2)
    return ids;
  std::vector<ptrdiff_t> prev(n), next(n);
  for (ptrdiff_t i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Entry {
    double priority;
    ptrdiff_t left, right;
    int32_t leftId, rightId, merged;
  };
  auto later = [](const Entry &a, const Entry &b) {
    if (a.priority != b.priority)
      return a.priority > b.priority;
    return a.left > b.left;
  };
  std::priority_queue<Entry, std::vector<Entry>, decltype(later)> heap(later);
  auto consider = [&](ptrdiff_t left, ptrdiff_t right) {
    if (left < 0 || right < 0)
      return;
    std::optional<MergeCandidate> m = lookup(ids[left], ids[right]);
    if (m)
      heap.push({m->priority, left, right, ids[left], ids[right], m->merged});
  };
  for (ptrdiff_t i = 0; i + 1 < n; ++i)
    consider(i, i + 1);

  std::vector<bool> alive(n, true);
  while (!heap.empty()) {
    Entry e = heap.top();
    heap.pop();
    // Stale: the left symbol was merged into its left neighbour, or its right
    // neighbour changed, or either side's id changed by an earlier merge.
    if (!alive[e.left] || next[e.left] != e.right || ids[e.left] != e.leftId ||
        ids[e.right] != e.rightId)
      continue;
    ids[e.left] = e.merged;
    alive[e.right] = false;
    next[e.left] = next[e.right];
    if (next[e.right] >= 0)
      prev[next[e.right]] = e.left;
    consider(prev[e.left], e.left);
    consider(e.left, next[e.left]);
  }
  std::vector<int32_t> out;
  out.reserve(n);
  for (ptrdiff_t i = 0; i >= 0; i = next[i])
    out.push_back(ids[i]);
  return out;
}

} // namespace qrt::text::detail

#endif // QRT_TEXT_TEXTUTIL_H
