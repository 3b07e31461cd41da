#pragma once
// What the docdb backend reads from chains-config: the collection (storage.docdb.url, gocloud's
// `mongo://DATABASE/COLLECTION?id_field=name` form) and where the MongoDB connection string comes
// from (upstream's precedence: storage.docdb.mongo-server-url-path, then -url-dir, then
// storage.docdb.mongo-server-url, then the MONGO_SERVER_URL environment variable), and that
// connection string parsed. Pure: no I/O; errors are `bad_config` naming the key.

#include <chainsd/plugin/config.hpp>
#include <chainsd/plugin/errors.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace storage_docdb {

// plugin::config_map's type, spelt out so this pure part needs no Asio (host.hpp).
using config_values = std::map<std::string, std::string, std::less<>>;

inline constexpr std::string_view url_key = "storage.docdb.url";
inline constexpr std::string_view server_url_key = "storage.docdb.mongo-server-url";
inline constexpr std::string_view server_url_dir_key = "storage.docdb.mongo-server-url-dir";
inline constexpr std::string_view server_url_path_key = "storage.docdb.mongo-server-url-path";
inline constexpr std::string_view server_url_env = "MONGO_SERVER_URL";

struct collection_url {
  std::string text;            // as configured
  std::string database;        // the URL's host
  std::string collection;      // its path
  std::string id_field;        // the field whose value becomes _id ("name": upstream's Name)
  std::string revision_field;  // docstore's revision field, "DocstoreRevision" by default
};
chainsd::plugin::result<collection_url> parse_collection_url(std::string_view url);

// Where the connection string is read from: a file (path, or dir + "/MONGO_SERVER_URL"), or a value.
struct server_url_source {
  std::string key;    // the config key (or MONGO_SERVER_URL) that decided it, for messages
  std::string file;   // the file to read and watch; empty when `value` holds the string
  std::string value;  // the connection string itself (storage.docdb.mongo-server-url or the env)
};
// `env` is MONGO_SERVER_URL's value, if set.
chainsd::plugin::result<server_url_source> pick_server_url(const config_values& cfg,
                                                           std::optional<std::string> env);
// A file's contents as the connection string: upstream trims one trailing newline; we trim
// surrounding white space (a CRLF or a stray space in a Secret otherwise breaks the URL).
std::string trim_file_text(std::string_view text);

struct server_address {
  std::vector<std::pair<std::string, std::uint16_t>> hosts;  // tried in order
  bool tls = false;
  std::string user;       // SCRAM-SHA-256 when set
  std::string password;
  std::string auth_source = "admin";
  std::string redacted;   // the connection string without the password, for messages and logs
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds socket_timeout{30'000};
  std::vector<std::string> ignored_options;  // understood by drivers, not needed here
};
// `from` names where the string came from (a key, "<key> (file <path>)" or MONGO_SERVER_URL).
chainsd::plugin::result<server_address> parse_server_url(std::string_view text, std::string_view from);

}  // namespace storage_docdb
