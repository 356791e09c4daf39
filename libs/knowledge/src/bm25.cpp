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
  std::unordered_map<std::uint32_t, double> score_of;
  for (const auto term : terms) {
    const double df = df_[term];
    const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
    for (const auto& p : postings_[term]) {
      const auto& document = documents_[p.slot];
      if (!document.live) continue;
      const double tf = p.tf;
      const double norm = params_.k1 * (1.0 - params_.b + params_.b * document.length / std::max(average, 1e-9));
      score_of[p.slot] += idf * tf * (params_.k1 + 1.0) / (tf + norm);
    }
  }
  std::vector<Scored> out;
  out.reserve(score_of.size());
  for (const auto& [slot, score] : score_of)
    out.push_back({documents_[slot].id, score});
  const auto better = [](const Scored& a, const Scored& b) { return a.score != b.score ? a.score > b.score : a.id < b.id; };
  if (out.size() > limit) {
    std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(limit), out.end(), better);
    out.resize(limit);
  } else {
    std::sort(out.begin(), out.end(), better);
  }
  return out;
}

} // namespace fte::knowledge
