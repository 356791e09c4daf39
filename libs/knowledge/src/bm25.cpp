#include "fte/knowledge/bm25.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace fte::knowledge {

void Bm25Index::put(std::int64_t id, const std::vector<std::string>& terms) {
  remove(id);
  const auto slot = static_cast<std::uint32_t>(documents_.size());
  Document document{id, static_cast<std::uint32_t>(terms.size()), true, {}};
  std::map<std::uint32_t, std::uint32_t> tf;
  for (const auto& term : terms) {
    auto [it, added] = term_ids_.try_emplace(term, static_cast<std::uint32_t>(postings_.size()));
    if (added) {
      postings_.emplace_back();
      df_.push_back(0);
    }
    ++tf[it->second];
  }
  for (const auto& [term, count] : tf) {
    postings_[term].push_back({slot, count});
    ++df_[term];
    document.terms.push_back(term);
  }
  documents_.push_back(std::move(document));
  slot_of_[id] = slot;
  ++live_;
  total_length_ += terms.size();
}

void Bm25Index::remove(std::int64_t id) {
  const auto it = slot_of_.find(id);
  if (it == slot_of_.end()) return;
  auto& document = documents_[it->second];
  for (const auto term : document.terms)
    --df_[term];
  total_length_ -= document.length;
  document.live = false;
  document.terms.clear();
  document.terms.shrink_to_fit();
  slot_of_.erase(it);
  --live_;
  ++dead_;
  if (dead_ > 64 && dead_ > live_) compact();
}

void Bm25Index::compact() {
  std::vector<std::uint32_t> new_slot(documents_.size(), UINT32_MAX);
  std::vector<Document> kept;
  kept.reserve(live_);
  for (std::uint32_t slot = 0; slot < documents_.size(); ++slot) {
    if (!documents_[slot].live) continue;
    new_slot[slot] = static_cast<std::uint32_t>(kept.size());
    slot_of_[documents_[slot].id] = new_slot[slot];
    kept.push_back(std::move(documents_[slot]));
  }
  for (auto& list : postings_) {
    std::vector<Posting> live_postings;
    live_postings.reserve(list.size());
    for (const auto& p : list) {
      if (new_slot[p.slot] != UINT32_MAX) live_postings.push_back({new_slot[p.slot], p.tf});
    }
    list = std::move(live_postings);
  }
  documents_ = std::move(kept);
  dead_ = 0;
}

std::vector<Scored> Bm25Index::search(const std::vector<std::string>& query, std::size_t limit) const {
  if (live_ == 0 || limit == 0) return {};
  std::vector<std::uint32_t> terms;
  for (const auto& word : query) {
    if (const auto it = term_ids_.find(word); it != term_ids_.end() && df_[it->second] > 0) terms.push_back(it->second);
  }
  std::sort(terms.begin(), terms.end());
  terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
  const double n = static_cast<double>(live_);
  const double average = static_cast<double>(total_length_) / n;
  // Scores accumulate in an array by slot (the touched slots listed): a
  // hash map here was a third of a message's ranking time, most of it
  // allocating nodes (callgrind, docs/benchmarks.md "Knowledge").
  std::vector<double> score_of(documents_.size(), 0.0);
  std::vector<std::uint32_t> touched;
  const double k1 = params_.k1;
  const double bb = params_.b;
  const double inverse_average = 1.0 / std::max(average, 1e-9);
  for (const auto term : terms) {
    const double df = df_[term];
    const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
    for (const auto& p : postings_[term]) {
      const auto& document = documents_[p.slot];
      if (!document.live) continue;
      const double tf = p.tf;
      const double norm = k1 * (1.0 - bb + bb * document.length * inverse_average);
      if (score_of[p.slot] == 0.0) touched.push_back(p.slot);
      score_of[p.slot] += idf * tf * (k1 + 1.0) / (tf + norm); // > 0: idf > 0 and tf >= 1
    }
  }
  std::vector<Scored> out;
  out.reserve(touched.size());
  for (const auto slot : touched)
    out.push_back({documents_[slot].id, score_of[slot]});
  const auto better = [](const Scored& a, const Scored& b) {
    return a.score != b.score ? a.score > b.score : a.id < b.id;
  };
  if (out.size() > limit) {
    std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(limit), out.end(), better);
    out.resize(limit);
  } else {
    std::sort(out.begin(), out.end(), better);
  }
  return out;
}

} // namespace fte::knowledge
