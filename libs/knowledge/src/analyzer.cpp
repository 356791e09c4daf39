#include "fte/knowledge/analyzer.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

#include <libstemmer.h>

namespace fte::knowledge {
namespace {

// Snowball's English stop word list (snowballstem.org, english/stop.txt),
// sorted for binary search. Question words that carry intent in a support
// message ("when", "where", "how", "why") are kept: "when is my bill due"
// and "where is my card" differ mainly in them.
constexpr std::array<std::string_view, 171> kStopWords = {
    "a",         "about",     "above",      "after",   "again",   "against", "all",     "am",     "an",     "and",
    "any",       "are",       "aren't",     "as",      "at",      "be",      "because", "been",   "before", "being",
    "below",     "between",   "both",       "but",     "by",      "can",     "can't",   "cannot", "could",  "couldn't",
    "did",       "didn't",    "do",         "does",    "doesn't", "doing",   "don't",   "down",   "during", "each",
    "few",       "for",       "from",       "further", "had",     "hadn't",  "has",     "hasn't", "have",   "haven't",
    "having",    "he",        "he'd",       "he'll",   "he's",    "her",     "here",    "here's", "hers",   "herself",
    "him",       "himself",   "his",        "i",       "i'd",     "i'll",    "i'm",     "i've",   "if",     "in",
    "into",      "is",        "isn't",      "it",      "it's",    "its",     "itself",  "just",   "let's",  "me",
    "more",      "most",      "mustn't",    "my",      "myself",  "no",      "nor",     "not",    "now",    "of",
    "off",       "on",        "once",       "only",    "or",      "other",   "ought",   "our",    "ours",   "ourselves",
    "out",       "over",      "own",        "same",    "shan't",  "she",     "she'd",   "she'll", "she's",  "should",
    "should've", "shouldn't", "so",         "some",    "such",    "than",    "that",    "that's", "the",    "their",
    "theirs",    "them",      "themselves", "then",    "there",   "there's", "these",   "they",   "they'd", "they'll",
    "they're",   "they've",   "this",       "those",   "through", "to",      "too",     "under",  "until",  "up",
    "very",      "was",       "wasn't",     "we",      "we'd",    "we'll",   "we're",   "we've",  "were",   "weren't",
    "what",      "what's",    "which",      "while",   "who",     "who's",   "whom",    "will",   "with",   "won't",
    "would",     "wouldn't",  "you",        "you'd",   "you'll",  "you're",  "you've",  "your",   "yours",  "yourself",
    "yourselves"};

constexpr bool sorted_words() {
  for (std::size_t i = 1; i < kStopWords.size(); ++i) {
    if (!(kStopWords[i - 1] < kStopWords[i])) return false;
  }
  return true;
}

bool is_word_byte(unsigned char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

} // namespace

void Analyzer::StemmerDeleter::operator()(sb_stemmer* stemmer) const noexcept { sb_stemmer_delete(stemmer); }

Analyzer::Analyzer() : stemmer_(sb_stemmer_new("english", "UTF_8")) {
  if (!stemmer_) throw std::runtime_error("libstemmer has no English stemmer for UTF-8");
}

Analyzer::~Analyzer() = default;

bool Analyzer::is_stop_word(std::string_view word) noexcept {
  static_assert(kStopWords.size() > 0);
  return std::binary_search(kStopWords.begin(), kStopWords.end(), word);
}

std::vector<std::string> Analyzer::terms(std::string_view text) const {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && !is_word_byte(static_cast<unsigned char>(text[i])))
      ++i;
    std::string word;
    while (i < text.size()) {
      const auto c = static_cast<unsigned char>(text[i]);
      if (is_word_byte(c)) {
        word.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : static_cast<char>(c));
        ++i;
      } else if ((c == '\'' || c == 0xE2) && !word.empty()) {
        // ' or the typographic ’ (E2 80 99) between letters stays in the word.
        const std::size_t width = c == '\'' ? 1 : 3;
        if (c == 0xE2 && !(i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
                           static_cast<unsigned char>(text[i + 2]) == 0x99))
          break;
        if (i + width < text.size() && is_word_byte(static_cast<unsigned char>(text[i + width]))) {
          word.push_back('\'');
          i += width;
        } else {
          break;
        }
      } else {
        break;
      }
    }
    if (!word.empty() && !is_stop_word(word)) words.push_back(std::move(word));
  }
  std::lock_guard lock(mutex_);
  for (auto& word : words) {
    const auto* stemmed =
        sb_stemmer_stem(stemmer_.get(), reinterpret_cast<const sb_symbol*>(word.data()), static_cast<int>(word.size()));
    if (stemmed == nullptr) continue; // out of memory: keep the word as it is
    word.assign(reinterpret_cast<const char*>(stemmed), static_cast<std::size_t>(sb_stemmer_length(stemmer_.get())));
  }
  return words;
}

static_assert(sorted_words(), "kStopWords must stay sorted for binary_search");

} // namespace fte::knowledge
