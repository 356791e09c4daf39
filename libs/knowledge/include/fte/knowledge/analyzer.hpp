#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

struct sb_stemmer;

namespace fte::knowledge {

/// Turns text into the terms that lexical retrieval counts: words (runs of
/// ASCII letters and digits, UTF-8 sequences kept whole, an apostrophe
/// inside a word kept for the stemmer), ASCII lower-cased, English stop
/// words dropped, then stemmed by Snowball's English stemmer (libstemmer),
/// so "cards", "card's" and "card" are one term.
///
/// Thread-safe: one libstemmer handle, used under a mutex (a handle keeps
/// state between calls); stemming is a fraction of a microsecond per word,
/// so the lanes of a batch do not queue on it measurably.
class Analyzer {
public:
  /// @throws std::runtime_error when libstemmer has no English stemmer
  Analyzer();
  ~Analyzer();
  Analyzer(const Analyzer&) = delete;
  Analyzer& operator=(const Analyzer&) = delete;

  /// The terms of `text`, in order, repeats kept (BM25 counts them).
  [[nodiscard]] std::vector<std::string> terms(std::string_view text) const;

  /// True for the words `terms` drops (lower-case input).
  [[nodiscard]] static bool is_stop_word(std::string_view word) noexcept;

private:
  struct StemmerDeleter {
    void operator()(sb_stemmer* stemmer) const noexcept;
  };
  mutable std::mutex mutex_;
  std::unique_ptr<sb_stemmer, StemmerDeleter> stemmer_;
};

} // namespace fte::knowledge
