#include "reconciler/work_queue.hpp"

namespace chainsd::reconciler {

void work_queue::add(const std::string& key) {
  auto [it, fresh] = keys_.try_emplace(key, slot{where::ready});
  if (fresh) {
    ready_.push_back(key);
    ++ready_count_;
    return;
  }
  if (it->second.at == where::processing) it->second.at = where::processing_dirty;
}

void work_queue::add_after(const std::string& key, duration delay) {
  auto due = clock_.now() + delay;
  auto [it, fresh] = keys_.try_emplace(key, slot{where::delayed, due});
  if (!fresh) {
    auto& s = it->second;
    if (s.at != where::delayed || s.due <= due) return;
    // An earlier time wins: drop the later entry.
    for (auto d = delayed_.lower_bound(s.due); d != delayed_.end() && d->first == s.due; ++d) {
      if (d->second == key) {
        delayed_.erase(d);
        break;
      }
    }
    s.due = due;
  }
  delayed_.emplace(due, key);
}

std::size_t work_queue::promote_due() {
  auto now = clock_.now();
  std::size_t n = 0;
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    auto key = std::move(delayed_.begin()->second);
    delayed_.erase(delayed_.begin());
    auto it = keys_.find(key);
    if (it == keys_.end() || it->second.at != where::delayed) continue;
    it->second.at = where::ready;
    ready_.push_back(std::move(key));
    ++ready_count_;
    ++n;
  }
  return n;
}

std::optional<std::string> work_queue::pop() {
  while (!ready_.empty()) {
    auto key = std::move(ready_.front());
    ready_.pop_front();
    auto it = keys_.find(key);
    if (it == keys_.end() || it->second.at != where::ready) continue;  // forgotten
    --ready_count_;
    ++processing_count_;
    it->second.at = where::processing;
    return key;
  }
  return std::nullopt;
}

bool work_queue::done(const std::string& key) {
  auto it = keys_.find(key);
  if (it == keys_.end()) return false;
  if (it->second.at == where::processing || it->second.at == where::processing_dirty) --processing_count_;
  if (it->second.at == where::processing_dirty) {
    it->second.at = where::ready;
    ready_.push_back(key);
    ++ready_count_;
    return true;
  }
  if (it->second.at == where::processing) keys_.erase(it);
  return false;
}

void work_queue::forget(const std::string& key) {
  auto it = keys_.find(key);
  if (it == keys_.end()) return;
  switch (it->second.at) {
    case where::ready:
      --ready_count_;  // its ready_ element is skipped by pop()
      keys_.erase(it);
      break;
    case where::delayed:
      for (auto d = delayed_.lower_bound(it->second.due); d != delayed_.end() && d->first == it->second.due; ++d) {
        if (d->second == key) {
          delayed_.erase(d);
          break;
        }
      }
      keys_.erase(it);
      break;
    case where::processing:
    case where::processing_dirty:
      it->second.at = where::processing;  // done() ends it
      break;
  }
}

bool work_queue::processing(const std::string& key) const {
  auto it = keys_.find(key);
  return it != keys_.end() && (it->second.at == where::processing || it->second.at == where::processing_dirty);
}

bool work_queue::waiting(const std::string& key) const {
  auto it = keys_.find(key);
  return it != keys_.end() && it->second.at == where::delayed;
}

std::optional<work_queue::time_point> work_queue::next_due() const {
  if (delayed_.empty()) return std::nullopt;
  return delayed_.begin()->first;
}

}  // namespace chainsd::reconciler
