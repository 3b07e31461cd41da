#include "server_error.hpp"

#include <string>

namespace storage_docdb {
namespace plugin = chainsd::plugin;

plugin::errc classify_code(std::int64_t code) {
  switch (code) {
    case 6:      // HostUnreachable
    case 7:      // HostNotFound
    case 64:     // WriteConcernFailed (wtimeout)
    case 89:     // NetworkTimeout
    case 91:     // ShutdownInProgress
    case 189:    // PrimarySteppedDown
    case 262:    // ExceededTimeLimit
    case 9001:   // SocketException
    case 10107:  // NotWritablePrimary
    case 11000:  // DuplicateKey
    case 11600:  // InterruptedAtShutdown
    case 11602:  // InterruptedDueToReplStateChange
    case 13435:  // NotPrimaryNoSecondaryOk
    case 13436:  // NotPrimaryOrSecondary
      return plugin::errc::retryable;
    case 13:  // Unauthorized
    case 18:  // AuthenticationFailed
      return plugin::errc::unauthenticated;
    case 73:  // InvalidNamespace
      return plugin::errc::bad_config;
    default: return plugin::errc::permanent;
  }
}

namespace {

std::int64_t code_of(const bson::value& v) {
  const bson::value* c = v.find("code");
  return c && c->is_number() ? static_cast<std::int64_t>(c->as_double()) : 0;
}

std::string describe(const bson::value& v) {
  std::string s = v.string_or("codeName");
  const std::int64_t code = code_of(v);
  if (code != 0) s += (s.empty() ? "code " : " (") + std::to_string(code) + (s.empty() ? "" : ")");
  const std::string msg = v.string_or("errmsg");
  if (!msg.empty()) s += (s.empty() ? "" : ": ") + msg;
  return s.empty() ? "no reason given" : s;
}

bool labelled_retryable(const bson::value& v) {
  const bson::value* labels = v.find("errorLabels");
  if (!labels || labels->kind != bson::type::array) return false;
  for (const auto& l : labels->items)
    if (l.kind == bson::type::string && (l.bytes == "RetryableWriteError" || l.bytes == "TransientTransactionError"))
      return true;
  return false;
}

}  // namespace

std::optional<plugin::error> reply_error(const bson::value& reply, std::string_view what) {
  const bson::value* ok = reply.find("ok");
  const bool good = ok && ((ok->is_number() && ok->as_double() == 1) || (ok->kind == bson::type::boolean && ok->flag));
  if (!good) {
    const auto cls = labelled_retryable(reply) ? plugin::errc::retryable : classify_code(code_of(reply));
    return plugin::fail(cls, std::string(what) + ": " + describe(reply));
  }
  if (const bson::value* we = reply.find("writeErrors"); we && we->kind == bson::type::array && !we->items.empty()) {
    const auto& first = we->items.front();
    return plugin::fail(classify_code(code_of(first)), std::string(what) + ": write error: " + describe(first));
  }
  if (const bson::value* wce = reply.find("writeConcernError"); wce && wce->kind == bson::type::document)
    return plugin::fail(plugin::errc::retryable, std::string(what) + ": write concern error: " + describe(*wce));
  return std::nullopt;
}

}  // namespace storage_docdb
