#include "op_msg.hpp"

#include "bson.hpp"

namespace storage_docdb::op_msg {
namespace plugin = chainsd::plugin;

namespace {

plugin::error bad(std::string what) { return plugin::fail(plugin::errc::permanent, "OP_MSG: " + what); }

}  // namespace

std::string encode(const message& m) {
  std::string out(header_size, '\0');
  bson::append_int32(out, static_cast<std::int32_t>(m.flags & ~checksum_present));
  out += '\0';
  out += m.body;
  for (const auto& s : m.sequences) {
    out += '\1';
    std::size_t size = 4 + s.identifier.size() + 1;
    for (const auto& d : s.documents) size += d.size();
    bson::append_int32(out, static_cast<std::int32_t>(size));
    out += s.identifier;
    out += '\0';
    for (const auto& d : s.documents) out += d;
  }
  std::string head;
  bson::append_int32(head, static_cast<std::int32_t>(out.size()));
  bson::append_int32(head, m.request_id);
  bson::append_int32(head, m.response_to);
  bson::append_int32(head, opcode);
  out.replace(0, header_size, head);
  return out;
}

plugin::result<header> decode_header(std::string_view first16) {
  if (first16.size() < header_size) return bad("truncated header");
  header h;
  h.length = bson::read_int32(first16.data());
  h.request_id = bson::read_int32(first16.data() + 4);
  h.response_to = bson::read_int32(first16.data() + 8);
  h.opcode = bson::read_int32(first16.data() + 12);
  if (h.length < static_cast<std::int32_t>(header_size + 5) || static_cast<std::size_t>(h.length) > max_message)
    return bad("message length " + std::to_string(h.length) + " out of bounds");
  if (h.opcode != opcode)
    return bad("opcode " + std::to_string(h.opcode) + " where 2013 was expected (is this a MongoDB server of 3.6 or later?)");
  return h;
}

plugin::result<message> decode(std::string_view all) {
  auto h = decode_header(all);
  if (!h) return h.error();
  if (static_cast<std::size_t>(h->length) != all.size())
    return bad("message length " + std::to_string(h->length) + " but " + std::to_string(all.size()) + " bytes");
  message m;
  m.request_id = h->request_id;
  m.response_to = h->response_to;
  m.flags = static_cast<std::uint32_t>(bson::read_int32(all.data() + header_size));
  std::size_t end = all.size();
  if (m.flags & checksum_present) {
    if (end < header_size + 4 + 4) return bad("truncated checksum");
    end -= 4;
  }
  // Bits 0-15 are required to be understood: an unknown one means a protocol we do not speak.
  if (m.flags & 0xfffcu) return bad("unknown required flag bits " + std::to_string(m.flags & 0xffffu));
  std::size_t p = header_size + 4;
  bool have_body = false;
  while (p < end) {
    const char kind = all[p++];
    if (end - p < 4) return bad("truncated section");
    const auto size = bson::read_int32(all.data() + p);
    if (size < 5 || static_cast<std::size_t>(size) > end - p) return bad("section size out of bounds");
    const std::string_view section = all.substr(p, static_cast<std::size_t>(size));
    if (kind == 0) {
      if (have_body) return bad("two body sections");
      m.body = std::string(section);
      have_body = true;
    } else if (kind == 1) {
      sequence s;
      const auto nul = section.find('\0', 4);
      if (nul == std::string_view::npos) return bad("unterminated sequence identifier");
      s.identifier = std::string(section.substr(4, nul - 4));
      std::size_t q = nul + 1;
      while (q < section.size()) {
        if (section.size() - q < 5) return bad("truncated document in sequence " + s.identifier);
        const auto len = bson::read_int32(section.data() + q);
        if (len < 5 || static_cast<std::size_t>(len) > section.size() - q)
          return bad("document length out of bounds in sequence " + s.identifier);
        s.documents.emplace_back(section.substr(q, static_cast<std::size_t>(len)));
        q += static_cast<std::size_t>(len);
      }
      m.sequences.push_back(std::move(s));
    } else {
      return bad("unknown section kind " + std::to_string(static_cast<int>(kind)));
    }
    p += static_cast<std::size_t>(size);
  }
  if (!have_body) return bad("no body section");
  return m;
}

}  // namespace storage_docdb::op_msg
