#pragma once
// The document upstream's docdb backend writes through gocloud's docstore (mongodocstore, default
// options) and the `update` command that upserts it, as docstore's Put does (an unordered bulk
// write of one ReplaceOne with upsert:true, filtered by _id). Field names are the Go struct's,
// not lowercased (docstore's LowercaseFields is off for URL-opened collections):
//
//   _id               string  the artifact's short key (id_field=name: Name's value)
//   Signed            binary  (subtype 0) the exact signed payload bytes
//   Signature         string  base64 (standard, padded) of the signature text
//   Cert, Chain       string  PEM, empty without a certificate
//   Object            document  the payload parsed as JSON (numbers as doubles, like Go's interface{})
//   Name              string  the short key again (docstore leaves the struct field in place)
//   DocstoreRevision  string  a fresh random UUID per write (docstore's revision field)
// Pure: no I/O.

#include "settings.hpp"

#include <chainsd/plugin/errors.hpp>

#include <string>

namespace storage_docdb {

struct signed_artifact {
  std::string name;       // the short key: "taskrun-<uid>", "pipelinerun-<uid>", 12 hex of a digest
  std::string payload;    // the signed bytes (JSON)
  std::string signature;  // DSSE envelope JSON or the raw signature
  std::string cert;
  std::string chain;
};

// The document; `permanent` when the payload is not a JSON object.
chainsd::plugin::result<std::string> signed_document(const collection_url& coll, const signed_artifact& a,
                                                     const std::string& revision);

// {update: COLL, updates: [{q: {_id: NAME}, u: DOC, upsert: true}], ordered: false, $db: DB}
std::string upsert_command(const collection_url& coll, const std::string& name, const std::string& document);

// A random (version 4) UUID in its 36-character text form, as docstore's driver.UniqueString.
std::string new_revision();

}  // namespace storage_docdb
