#pragma once
// Our own patch's echo. After a patch that marked a run (signed or failed), the watch sends the
// run back at the resourceVersion the patch returned — tens of KB with the stored payloads — and
// a lagging watch may still send versions older than the patch. Both are recognised here from
// (uid, resourceVersion) alone, before anything is parsed:
//   - `echo`: exactly the version our patch made; nothing in it is news (a parent PipelineRun
//     waiting for this TaskRun is the one thing to tell, and the note carries its key);
//   - `stale`: older than our patch; acting on it would sign again;
//   - `pass`: newer (someone changed the run after us), or nothing remembered: read it.
// A note lives until its echo or a newer version arrives, the run is deleted, or `ttl` passes.
//
// Threading: executor thread only. Memory: one note (two short strings) per run patched in the
// last `ttl`.

#include "runtime/clock.hpp"

#include <optional>
#include <string>
#include <unordered_map>

namespace chainsd::reconciler {

class echo_filter {
 public:
  enum class verdict { pass, stale, echo };
  struct result {
    verdict v = verdict::pass;
    std::string parent;  // for `echo`: "ns/name" of the PipelineRun to wake, or empty
  };

  echo_filter(const runtime::clock& c, runtime::clock::duration ttl) : clock_(c), ttl_(ttl) {}

  // After a patch of run `uid` that produced `resource_version`; `parent` as in result.
  void remember(const std::string& uid, std::string resource_version, std::string parent);
  // Judges an event. `echo` and `pass` end the note; `stale` keeps it. While held (hold()), an
  // echo keeps its note too: a list taken before our patch may still deliver older versions.
  result check(const std::string& uid, const std::string& resource_version);
  // A list is being read (HA rescan): notes outlive their echo until release().
  void hold() { ++holds_; }
  void release();
  void forget(const std::string& uid) { notes_.erase(uid); }
  // Drops expired notes; cheap to call often (at most one sweep a second).
  void sweep();
  std::size_t size() const { return notes_.size(); }

 private:
  struct note {
    std::string rv;
    runtime::clock::time_point expires;
    std::string parent;
    bool echoed = false;  // its echo came while held
  };
  int holds_ = 0;
  const runtime::clock& clock_;
  runtime::clock::duration ttl_;
  std::unordered_map<std::string, note> notes_;
  runtime::clock::time_point next_sweep_{};
};

// True when resourceVersion `rv` is known to be older than `than` (both numeric, as on every
// real API server; anything else is not known to be older).
bool older_version(const std::string& rv, const std::string& than);

}  // namespace chainsd::reconciler
