#pragma once
// The reconciler's queue of runs (by uid), as client-go's workqueue: a key is queued at most
// once, a key being processed that is added again is processed once more after done(), and a
// key can wait for a delay (retry backoff). Time comes from an injectable clock.
//
// One difference from client-go, on purpose: add() of a key that is waiting out a delay keeps
// it waiting. A run in backoff receives the echo of its own retry patch; that must not cut the
// backoff short.
//
// Threading: executor thread only. No I/O, no coroutines: the reconciler's loop pops and waits.

#include "runtime/clock.hpp"

#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

namespace chainsd::reconciler {

class work_queue {
 public:
  using time_point = runtime::clock::time_point;
  using duration = runtime::clock::duration;

  explicit work_queue(const runtime::clock& c) : clock_(c) {}

  // Ready now, unless already queued or waiting; while processing it is marked to run again.
  void add(const std::string& key);
  // Ready after `delay` (a key already waiting keeps the earlier time; a queued key stays queued).
  void add_after(const std::string& key, duration delay);
  // Moves every key whose delay has passed to the ready list. Returns how many.
  std::size_t promote_due();
  // The next ready key, now marked processing; nullopt when none is ready.
  std::optional<std::string> pop();
  // Processing of `key` ended. Returns true when it was added again meanwhile (it is queued now).
  bool done(const std::string& key);
  // Drops the key from the ready list and delays; a key being processed is not re-queued.
  void forget(const std::string& key);

  bool processing(const std::string& key) const;
  bool waiting(const std::string& key) const;
  std::size_t ready() const { return ready_count_; }
  std::size_t delayed() const { return delayed_.size(); }
  std::size_t in_process() const { return processing_count_; }
  // When the earliest delayed key becomes due (nullopt: none waiting).
  std::optional<time_point> next_due() const;

 private:
  enum class where { ready, delayed, processing, processing_dirty };
  struct slot {
    where at;
    time_point due{};  // delayed
  };
  const runtime::clock& clock_;
  std::unordered_map<std::string, slot> keys_;
  std::deque<std::string> ready_;  // may hold forgotten keys (skipped on pop)
  std::size_t ready_count_ = 0;
  std::size_t processing_count_ = 0;
  std::multimap<time_point, std::string> delayed_;
};

}  // namespace chainsd::reconciler
