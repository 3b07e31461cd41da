#pragma once
// API errors: a Kubernetes `Status` object decoded into code, reason and message. Requests return
// a `result` (status + raw body) so 404/409/410 are plain branches; value() throws kube_error for
// code that treats any failure as exceptional.

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>

namespace chainsd::kube {

struct api_status {
  unsigned code = 0;      // HTTP status (Status.code, or the response status when absent)
  std::string reason;     // e.g. NotFound, AlreadyExists, Conflict, Expired, Gone, TooManyRequests
  std::string message;    // human text from the API server
};

// Decodes a Status body; when the body is not a Status (e.g. a proxy's HTML page), reason is
// derived from the HTTP status and message holds the first bytes of the body.
api_status decode_status(unsigned http_status, std::string_view body);

// Canonical reason for an HTTP status ("NotFound" for 404...), empty when unknown.
std::string_view reason_for(unsigned http_status);

class kube_error : public std::runtime_error {
 public:
  explicit kube_error(api_status s, std::string_view context = {});
  unsigned code() const noexcept { return status_.code; }
  const std::string& reason() const noexcept { return status_.reason; }
  const std::string& message() const noexcept { return status_.message; }
  const api_status& status() const noexcept { return status_; }

 private:
  api_status status_;
};

// Outcome of one API request (after retries). The body is the raw JSON of the response; on
// failure error() decodes the Status (lazily: the body stays the source of truth).
struct result {
  unsigned status = 0;
  std::string body;

  bool ok() const noexcept { return status >= 200 && status < 300; }
  bool not_found() const noexcept { return status == 404; }
  bool conflict() const noexcept { return status == 409; }   // AlreadyExists or Conflict
  bool gone() const noexcept { return status == 410; }       // Expired resourceVersion/continue

  api_status error() const { return decode_status(status, body); }
  // The body on success; throws kube_error otherwise.
  std::string& value() &;
  std::string value() &&;
};

// Parses an HTTP Retry-After value in delta seconds; -1 ms when absent or an HTTP date.
std::chrono::milliseconds parse_retry_after(std::string_view v);

}  // namespace chainsd::kube
