#include "settings.hpp"

#include <cctype>
#include <charconv>

namespace storage_docdb {
namespace plugin = chainsd::plugin;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  return std::string(s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1));
}

std::string get(const config_values& cfg, std::string_view key) {
  auto it = cfg.find(key);
  return it == cfg.end() ? std::string() : trim(it->second);
}

// %XX decoding (connection-string user names and passwords must be percent-encoded).
std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
      return std::nullopt;
    out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
    i += 2;
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> split_query(std::string_view q) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!q.empty()) {
    const auto amp = q.find('&');
    const auto part = q.substr(0, amp);
    const auto eq = part.find('=');
    if (!part.empty())
      out.emplace_back(std::string(part.substr(0, eq)), eq == std::string_view::npos ? "" : std::string(part.substr(eq + 1)));
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
  }
  return out;
}

bool parse_ms(std::string_view v, std::chrono::milliseconds& out) {
  long long n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n <= 0) return false;
  out = std::chrono::milliseconds(n);
  return true;
}

}  // namespace

plugin::result<collection_url> parse_collection_url(std::string_view raw) {
  const std::string key(url_key);
  const std::string url = trim(raw);
  if (url.empty())
    return plugin::fail(plugin::errc::bad_config, key + " is not set: the docdb storage backend needs a collection URL "
                                                       "such as mongo://chains/signatures?id_field=name");
  const auto colon = url.find("://");
  const std::string scheme = colon == std::string::npos ? std::string() : lower(url.substr(0, colon));
  if (scheme == "firestore" || scheme == "dynamodb" || scheme == "awsdynamodb" || scheme == "mem")
    return plugin::fail(plugin::errc::bad_config,
                        key + ": \"" + url + "\": the " + scheme +
                            ":// collections of upstream's docstore are not supported by chainsd's docdb backend; "
                            "use a MongoDB collection (mongo://DATABASE/COLLECTION?id_field=name, e.g. Amazon "
                            "DocumentDB or Azure Cosmos DB for MongoDB)");
  if (scheme != "mongo")
    return plugin::fail(plugin::errc::bad_config,
                        key + ": \"" + url + "\" is not a mongo://DATABASE/COLLECTION?id_field=name URL");
  collection_url c;
  c.text = url;
  std::string_view rest = std::string_view(url).substr(colon + 3);
  const auto q = rest.find('?');
  const std::string_view query = q == std::string_view::npos ? std::string_view() : rest.substr(q + 1);
  rest = rest.substr(0, q);
  const auto slash = rest.find('/');
  c.database = std::string(rest.substr(0, slash));
  c.collection = slash == std::string_view::npos ? std::string() : std::string(rest.substr(slash + 1));
  if (c.database.empty())
    return plugin::fail(plugin::errc::bad_config, key + ": \"" + url + "\" names no database (mongo://DATABASE/COLLECTION)");
  if (c.collection.empty())
    return plugin::fail(plugin::errc::bad_config, key + ": \"" + url + "\" names no collection (mongo://DATABASE/COLLECTION)");
  if (c.database.find_first_of("/\\. \"$") != std::string::npos || c.collection.find('$') != std::string::npos)
    return plugin::fail(plugin::errc::bad_config, key + ": \"" + url + "\": the database or collection name holds a "
                                                       "character MongoDB does not allow");
  for (const auto& [name, value] : split_query(query)) {
    if (name == "id_field")
      c.id_field = value;
    else if (name == "revision_field")
      c.revision_field = value;
    else
      return plugin::fail(plugin::errc::bad_config, key + ": \"" + url + "\": invalid query parameter \"" + name +
                                                         "\" (upstream's mongo URLs take id_field and revision_field)");
  }
  // Upstream's documents have no _id of their own: without id_field=name every Put fails there.
  if (lower(c.id_field) != "name")
    return plugin::fail(plugin::errc::bad_config,
                        key + ": \"" + url + "\": set id_field=name (the document's Name, the artifact's key, "
                                             "becomes its _id, as upstream's docs configure it)" +
                            (c.id_field.empty() ? "" : "; \"" + c.id_field + "\" is not a field that identifies it"));
  if (c.revision_field.empty()) c.revision_field = "DocstoreRevision";
  return c;
}

plugin::result<server_url_source> pick_server_url(const config_values& cfg, std::optional<std::string> env) {
  server_url_source s;
  if (auto path = get(cfg, server_url_path_key); !path.empty()) {
    s.key = server_url_path_key;
    s.file = path;
    return s;
  }
  if (auto dir = get(cfg, server_url_dir_key); !dir.empty()) {
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    s.key = server_url_dir_key;
    s.file = dir + "/" + std::string(server_url_env);
    return s;
  }
  if (auto v = get(cfg, server_url_key); !v.empty()) {
    s.key = server_url_key;
    s.value = v;
    return s;
  }
  if (env && !trim(*env).empty()) {
    s.key = server_url_env;
    s.value = trim(*env);
    return s;
  }
  return plugin::fail(plugin::errc::bad_config,
                      std::string(url_key) + " names a mongo collection but no MongoDB server is configured: set one of " +
                          std::string(server_url_path_key) + ", " + std::string(server_url_dir_key) + ", " +
                          std::string(server_url_key) + " or the " + std::string(server_url_env) + " environment variable");
}

std::string trim_file_text(std::string_view text) { return trim(text); }

plugin::result<server_address> parse_server_url(std::string_view raw, std::string_view from) {
  const std::string text = trim(raw);
  auto bad = [&](const std::string& why) { return plugin::fail(plugin::errc::bad_config, std::string(from) + ": " + why); };
  server_address a;
  std::string_view rest = text;
  if (rest.starts_with("mongodb+srv://"))
    return bad("mongodb+srv:// connection strings (DNS SRV lookup) are not supported: list the hosts as mongodb://host1:port,host2:port");
  if (!rest.starts_with("mongodb://")) return bad("not a mongodb:// connection string");
  rest.remove_prefix(10);
  const auto end_hosts = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, end_hosts);
  std::string_view tail = end_hosts == std::string_view::npos ? std::string_view() : rest.substr(end_hosts);
  std::string redacted_auth;
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const auto userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const auto colon = userinfo.find(':');
    auto user = percent_decode(userinfo.substr(0, colon));
    auto pass = percent_decode(colon == std::string_view::npos ? std::string_view() : userinfo.substr(colon + 1));
    if (!user || !pass) return bad("the user name or password has a malformed %-escape");
    if (user->empty()) return bad("an empty user name before '@'");
    a.user = *user;
    a.password = *pass;
    redacted_auth = std::string(userinfo.substr(0, colon)) + (colon == std::string_view::npos ? "@" : ":xxxxx@");
  }
  if (authority.empty()) return bad("no host");
  while (!authority.empty()) {
    const auto comma = authority.find(',');
    std::string_view h = authority.substr(0, comma);
    authority = comma == std::string_view::npos ? std::string_view() : authority.substr(comma + 1);
    std::string host;
    std::string_view port;
    if (h.starts_with("[")) {
      const auto close = h.find(']');
      if (close == std::string_view::npos) return bad("unterminated [IPv6] host");
      host = std::string(h.substr(1, close - 1));
      if (close + 1 < h.size()) {
        if (h[close + 1] != ':') return bad("junk after [IPv6] host");
        port = h.substr(close + 2);
      }
    } else {
      const auto colon = h.find(':');
      host = lower(h.substr(0, colon));
      if (colon != std::string_view::npos) port = h.substr(colon + 1);
    }
    if (host.empty()) return bad("an empty host");
    unsigned p = 27017;
    if (!port.empty()) {
      auto [e, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
      if (ec != std::errc() || e != port.data() + port.size() || p == 0 || p > 65535)
        return bad("port \"" + std::string(port) + "\" is not a number from 1 to 65535");
    }
    a.hosts.emplace_back(host, static_cast<std::uint16_t>(p));
  }
  std::string_view query;
  if (tail.starts_with("/")) {
    const auto q = tail.find('?');
    const auto db = tail.substr(1, q == std::string_view::npos ? std::string_view::npos : q - 1);
    if (!db.empty()) a.auth_source = std::string(db);
    tail = q == std::string_view::npos ? std::string_view() : tail.substr(q);
  }
  if (tail.starts_with("?")) query = tail.substr(1);
  std::string mechanism;
  for (const auto& [name, value] : split_query(query)) {
    const std::string n = lower(name);
    const std::string v = lower(value);
    if (n == "tls" || n == "ssl") {
      if (v != "true" && v != "false") return bad(name + "=" + value + ": expected true or false");
      a.tls = v == "true";
    } else if (n == "authsource") {
      a.auth_source = value;
    } else if (n == "authmechanism") {
      mechanism = value;
    } else if (n == "connecttimeoutms") {
      if (!parse_ms(value, a.connect_timeout)) return bad(name + "=" + value + ": expected milliseconds");
    } else if (n == "sockettimeoutms") {
      if (!parse_ms(value, a.socket_timeout)) return bad(name + "=" + value + ": expected milliseconds");
    } else if (n == "tlscafile" || n == "tlscertificatekeyfile" || n == "tlsinsecure" ||
               n == "tlsallowinvalidcertificates" || n == "tlsallowinvalidhostnames") {
      return bad(name + " is not supported: chainsd verifies the server against the system CAs (add the CA there)");
    } else if (n == "compressors" || n == "loadbalanced") {
      if (n == "loadbalanced" && v == "true") return bad("loadBalanced=true is not supported");
      a.ignored_options.push_back(name);
    } else {
      a.ignored_options.push_back(name);  // replicaSet, w, retryWrites, appName, directConnection, ...
    }
  }
  if (!mechanism.empty() && mechanism != "SCRAM-SHA-256")
    return bad("authMechanism=" + mechanism + " is not supported (only SCRAM-SHA-256)");
  std::string hosts;
  for (const auto& [h, p] : a.hosts)
    hosts += (hosts.empty() ? "" : ",") + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + std::to_string(p);
  a.redacted = "mongodb://" + redacted_auth + hosts;
  return a;
}

}  // namespace storage_docdb
