#pragma once
// MongoDB's OP_MSG (opcode 2013, wire version 6 and later): a 16-byte header (messageLength,
// requestID, responseTo, opCode, all little-endian int32), flagBits (uint32), then sections: kind 0
// is the command body (one BSON document), kind 1 a document sequence (size, identifier, documents),
// and an optional CRC-32C checksum when flag bit 0 is set. Pure: no I/O.

#include <chainsd/plugin/errors.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace storage_docdb::op_msg {

constexpr std::int32_t opcode = 2013;
constexpr std::size_t header_size = 16;
// What a server may send at most (maxMessageSizeBytes' default, 48 MB).
constexpr std::size_t max_message = 48'000'000;

constexpr std::uint32_t checksum_present = 1u << 0;
constexpr std::uint32_t more_to_come = 1u << 1;

struct sequence {
  std::string identifier;              // e.g. "documents" for insert, "updates" for update
  std::vector<std::string> documents;  // encoded BSON
};

struct message {
  std::int32_t request_id = 0;
  std::int32_t response_to = 0;
  std::uint32_t flags = 0;
  std::string body;                 // the kind-0 section
  std::vector<sequence> sequences;  // kind-1 sections
};

// The whole message, header included.
std::string encode(const message& m);

struct header {
  std::int32_t length = 0;
  std::int32_t request_id = 0;
  std::int32_t response_to = 0;
  std::int32_t opcode = 0;
};
// The first 16 bytes; `permanent` when the length is out of bounds or the opcode is not OP_MSG.
chainsd::plugin::result<header> decode_header(std::string_view first16);

// A whole message (header included). A checksum, when present, is skipped, not verified (TCP and
// TLS already protect the bytes; drivers verify it only when they asked for it).
chainsd::plugin::result<message> decode(std::string_view all);

}  // namespace storage_docdb::op_msg
