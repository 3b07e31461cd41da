#include "document.hpp"

#include "bson.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <openssl/rand.h>

#include <array>
#include <cstdlib>

namespace storage_docdb {
namespace plugin = chainsd::plugin;

plugin::result<std::string> signed_document(const collection_url& coll, const signed_artifact& a,
                                            const std::string& revision) {
  auto object = bson::from_json(a.payload);
  if (!object) return object.error();
  bson::writer w;
  w.add_string("_id", a.name)
      .add_binary("Signed", a.payload)
      .add_string("Signature", plugin::base64_encode(a.signature))
      .add_string("Cert", a.cert)
      .add_string("Chain", a.chain)
      .add_document("Object", *object)
      .add_string("Name", a.name)
      .add_string(coll.revision_field, revision);
  return w.finish();
}

std::string upsert_command(const collection_url& coll, const std::string& name, const std::string& document) {
  bson::writer q;
  q.add_string("_id", name);
  bson::writer one;
  one.add_document("q", q.finish()).add_document("u", document).add_bool("upsert", true);
  bson::writer updates;
  updates.add_document("0", one.finish());
  bson::writer cmd;
  cmd.add_string("update", coll.collection)
      .add_array("updates", updates.finish())
      .add_bool("ordered", false)
      .add_string("$db", coll.database);
  return cmd.finish();
}

std::string new_revision() {
  std::array<unsigned char, 16> b{};
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1)
    for (auto& c : b) c = static_cast<unsigned char>(std::rand());  // never in practice: a revision, not a secret
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += hex[b[i] >> 4];
    out += hex[b[i] & 15];
  }
  return out;
}

}  // namespace storage_docdb
