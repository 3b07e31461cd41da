#pragma once
// A MongoDB reply's verdict as the engine's error classes. Retryable: the codes of the retryable
// writes specification (NotWritablePrimary, a node shutting down or stepping down, host and network
// errors, ExceededTimeLimit), anything labelled RetryableWriteError, a write concern that timed
// out, a duplicate key (two concurrent upserts of one _id: the second wins on a retry).
// Unauthenticated: AuthenticationFailed, Unauthorized. Bad config: a namespace the server refuses.
// Everything else: permanent. Pure.

#include "bson.hpp"

#include <chainsd/plugin/errors.hpp>

#include <optional>
#include <string_view>

namespace storage_docdb {

chainsd::plugin::errc classify_code(std::int64_t code);

// nullopt when the reply says ok: 1 and carries no writeErrors / writeConcernError. The message
// starts with `what` and carries the server's codeName and errmsg.
std::optional<chainsd::plugin::error> reply_error(const bson::value& reply, std::string_view what);

}  // namespace storage_docdb
