#pragma once
// coordination.k8s.io/v1 Leases: the record leader election keeps in them, reading and writing
// it with optimistic concurrency (an update carries the resourceVersion it was read at, so a
// stale writer gets 409 Conflict), as client-go's resourcelock.LeaseLock does.
//
// Times are metav1.MicroTime: RFC 3339 in UTC with exactly six fraction digits
// ("2026-01-02T03:04:05.123456Z"), which is what Go writes; reading accepts any RFC 3339 time.
// The election itself never trusts these times (other nodes' clocks): it only notices that they
// changed (engine/ha/elector_state.hpp). They are kept verbatim so a renewal can carry the
// acquireTime it found.
//
// Ownership/threading: lease_client holds a reference to the kube::client (which must outlive
// it) and is used on that client's executor only. Cancellation: the awaitables honour the
// caller's cancellation slot (the client's requests do); a cancelled request throws.

#include "kube/client.hpp"
#include "kube/errors.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chainsd::kube {

// LeaseSpec. Absent fields stay nullopt (client-go reads nil pointers as zero values).
struct lease_spec {
  std::optional<std::string> holder_identity;
  std::optional<std::int32_t> lease_duration_seconds;
  std::optional<std::string> acquire_time;   // MicroTime text as stored
  std::optional<std::string> renew_time;
  std::optional<std::int32_t> lease_transitions;
  std::optional<std::string> strategy;         // coordinated leader election (alpha)
  std::optional<std::string> preferred_holder;

  bool operator==(const lease_spec&) const = default;
};

struct lease {
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string resource_version;
  lease_spec spec;
  // The object as the server returned it: an update sends its metadata back unchanged (labels,
  // annotations, ownerReferences, resourceVersion) with only the spec replaced, as client-go does.
  std::string raw;
};

// Thrown when a body is not a Lease the election can read (e.g. holderIdentity is a number).
class lease_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses a Lease object body. Throws lease_error naming the field that is wrong.
lease parse_lease(std::string body);

// A Lease to POST: metadata.name/namespace and the spec.
std::string lease_create_body(std::string_view ns, std::string_view name, const lease_spec& spec);
// The object to PUT: `current`'s metadata (with its resourceVersion, the precondition) and
// `spec` in place of its spec.
std::string lease_update_body(const lease& current, const lease_spec& spec);

// metav1.MicroTime text of a wall-clock time (UTC, microseconds).
std::string format_micro_time(std::chrono::system_clock::time_point t);
// Any RFC 3339 date-time ("Z" or ±hh:mm offset, optional fraction of any length) → time;
// nullopt when it is not one.
std::optional<std::chrono::system_clock::time_point> parse_micro_time(std::string_view s);

// Outcome of one lease request: the raw result (status, Status body) and, on 2xx, the Lease.
struct lease_result {
  result raw;
  std::optional<lease> value;  // set iff raw.ok()

  bool ok() const noexcept { return raw.ok(); }
  bool not_found() const noexcept { return raw.not_found(); }
  bool conflict() const noexcept { return raw.conflict(); }
};

class lease_client {
 public:
  explicit lease_client(client& c) : client_(&c) {}

  // GET. 404 → not_found(); a 2xx body that is not a Lease throws lease_error.
  boost::asio::awaitable<lease_result> get(std::string ns, std::string name);
  // POST. 409 AlreadyExists → conflict().
  boost::asio::awaitable<lease_result> create(std::string ns, std::string name, lease_spec spec);
  // PUT with current's resourceVersion. 409 Conflict → conflict() (someone wrote it since).
  boost::asio::awaitable<lease_result> update(lease current, lease_spec spec);

 private:
  client* client_;
};

}  // namespace chainsd::kube
