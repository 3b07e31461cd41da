#pragma once
// One MongoDB connection over a host stream: OP_MSG commands, one at a time, each within the
// address's socket timeout. open_connection() makes it ready: the first host of the connection
// string that answers `hello` as a writable primary (wire version 6 or later), authenticated
// with SCRAM-SHA-256 when the string carries a user.
//
// Errors: transport failures and deadlines are `retryable` (the message names the host); a reply
// that is not OP_MSG or not BSON is `permanent`. A command's own verdict (ok: 0, writeErrors) is
// the caller's to judge (server_error.hpp), except during the handshake.
// Ownership: the connection owns its stream; the host must outlive it. Not for concurrent use.

#include "bson.hpp"
#include "settings.hpp"

#include <chainsd/plugin/host.hpp>

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>

namespace storage_docdb {

class connection {
 public:
  connection(std::unique_ptr<chainsd::plugin::stream> s, std::string where, std::chrono::milliseconds timeout)
      : s_(std::move(s)), where_(std::move(where)), timeout_(timeout) {}

  // `body` is a whole command document, "$db" included.
  boost::asio::awaitable<chainsd::plugin::result<bson::value>> run(std::string body);
  const std::string& where() const { return where_; }  // "host:port"

 private:
  std::unique_ptr<chainsd::plugin::stream> s_;
  std::string where_;
  std::chrono::milliseconds timeout_;
  std::int32_t next_id_ = 1;
};

boost::asio::awaitable<chainsd::plugin::result<std::unique_ptr<connection>>> open_connection(chainsd::plugin::host& h,
                                                                                             server_address a);

}  // namespace storage_docdb
