#include "reconciler/annotations.hpp"

#include "reconciler/run_meta.hpp"

#include <charconv>

namespace chainsd::reconciler {

disposition dispose(const failure& f) {
  switch (f.cls) {
    case plugin::errc::retryable:
      return disposition::retry;
    case plugin::errc::not_found:
      // A signer without a key yet (signing-secrets not created): the key is expected to appear.
      return f.type == "signing" ? disposition::park : disposition::fail;
    case plugin::errc::permanent:
    case plugin::errc::unauthenticated:
    case plugin::errc::bad_config:
      return disposition::fail;
  }
  return disposition::fail;
}

namespace {

std::string join(const std::vector<failure>& failures) {
  std::string out;
  for (const auto& f : failures) out += (out.empty() ? "" : "; ") + f.message;
  return out;
}

}  // namespace

decision decide(const std::map<std::string, std::string>& existing, std::map<std::string, std::string> stored,
                const std::vector<failure>& failures, int max_retries) {
  decision d;
  if (failures.empty()) {
    d.annotations = std::move(stored);
    for (const auto& [k, v] : existing) d.annotations.try_emplace(k, v);  // a stored value wins
    d.annotations[std::string(signed_annotation)] = "true";
    d.annotations.erase(std::string(error_annotation));
    return d;
  }
  d.reason = join(failures);
  bool fail_now = false, park = false;
  for (const auto& f : failures) {
    auto what = dispose(f);
    fail_now = fail_now || what == disposition::fail;
    park = park || what == disposition::park;
  }
  if (!fail_now && park) {
    d.what = decision::kind::parked;
    return d;
  }
  d.annotations = std::move(stored);
  for (const auto& [k, v] : existing) d.annotations.try_emplace(k, v);
  d.annotations[std::string(error_annotation)] = short_reason(d.reason);
  // upstream's HandleRetry: no retries annotation → "0"; below the maximum → +1; else failed.
  auto it = existing.find(std::string(retries_annotation));
  int current = -1;
  bool parsable = true;
  if (it != existing.end()) {
    auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), current);
    parsable = ec == std::errc() && p == it->second.data() + it->second.size();
  }
  if (!fail_now && parsable && current < max_retries) {
    d.what = decision::kind::retry;
    d.retries = current + 1;
    d.annotations[std::string(retries_annotation)] = std::to_string(d.retries);
  } else {
    d.what = decision::kind::failed;
    d.annotations[std::string(signed_annotation)] = "failed";
  }
  return d;
}

decision failed_marking(const std::map<std::string, std::string>& existing, std::string reason) {
  decision d;
  d.what = decision::kind::failed;
  d.annotations = existing;
  d.annotations[std::string(error_annotation)] = short_reason(reason);
  d.annotations[std::string(signed_annotation)] = "failed";
  d.reason = std::move(reason);
  return d;
}

std::string short_reason(std::string_view full, std::size_t max) {
  std::string_view s = full;
  // A response body quoted into a message ('... 400 Bad Request: {"code":...}') stays in the log.
  if (auto j = s.find("{\""); j != std::string_view::npos && j > 0) s = s.substr(0, j);
  while (!s.empty() && (s.back() == ' ' || s.back() == ':')) s.remove_suffix(1);
  if (s.size() <= max && s.size() == full.size()) return std::string(s);
  const std::string_view more = " (more in the run's Events)";
  std::size_t keep = s.size() + more.size() <= max ? s.size() : (max > more.size() ? max - more.size() : max);
  // Back up to the start of a UTF-8 sequence.
  while (keep > 0 && keep < s.size() && (static_cast<unsigned char>(s[keep]) & 0xC0) == 0x80) --keep;
  return std::string(s.substr(0, keep)) + std::string(more);
}

std::size_t annotation_bytes(const std::map<std::string, std::string>& a) {
  std::size_t n = 0;
  for (const auto& [k, v] : a) n += k.size() + v.size();
  return n;
}

}  // namespace chainsd::reconciler
