#pragma once
// What the passes over one run have made so far, so that a retry resumes instead of starting
// again: a retry in the same process reuses the signatures and transparency-log entries already
// made (an ECDSA signature differs every time, so the log could not tell a second one from a new
// artifact) and redoes only the stages that failed — including when only the final patch failed.
//
// Kept per run while it is tracked (in flight or waiting to retry), for the config snapshot it
// was made with; a pass under another snapshot starts afresh. An artifact's progress is reused
// only when the retry's payload has the same bytes. Memory: bounded by the reconciler
// (reconciler_options::max_progress_bytes); a run beyond the bound keeps none.

#include "signing/sign_artifact.hpp"
#include "tlog/logger.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace chainsd::reconciler {

struct artifact_progress {
  std::string payload;
  std::optional<signing::signed_artifact> signature;
  std::optional<tlog::log_result> entry;
  // Storage values (as in artifacts.*.storage) that stored it, with the annotations each returned.
  std::map<std::string, std::map<std::string, std::string>> stored;

  std::size_t bytes() const {
    std::size_t n = payload.size() + (signature ? signature->bytes() : 0) +
                    (entry ? entry->annotation.size() + entry->entry_json.size() + entry->bundle_json.size() : 0);
    for (const auto& [k, a] : stored) {
      n += k.size();
      for (const auto& [ak, av] : a) n += ak.size() + av.size();
    }
    return n;
  }
};

struct run_progress {
  std::uint64_t config_version = 0;
  std::map<std::string, artifact_progress> artifacts;  // by artifact::id()

  std::size_t bytes() const {
    std::size_t n = 0;
    for (const auto& [id, a] : artifacts) n += id.size() + a.bytes();
    return n;
  }
};

}  // namespace chainsd::reconciler
