#include "connection.hpp"

#include "op_msg.hpp"
#include "scram.hpp"
#include "server_error.hpp"

namespace storage_docdb {
namespace plugin = chainsd::plugin;
namespace asio = boost::asio;

asio::awaitable<plugin::result<bson::value>> connection::run(std::string body) {
  op_msg::message m;
  m.request_id = next_id_++;
  m.body = std::move(body);
  auto w = co_await s_->write(op_msg::encode(m), timeout_);
  if (!w) co_return w.error();
  for (;;) {
    auto head = co_await s_->read_exact(op_msg::header_size, timeout_);
    if (!head) co_return head.error();
    auto h = op_msg::decode_header(*head);
    if (!h) co_return plugin::fail(h.error().code, where_ + ": " + h.error().message);
    auto rest = co_await s_->read_exact(static_cast<std::size_t>(h->length) - op_msg::header_size, timeout_);
    if (!rest) co_return rest.error();
    auto reply = op_msg::decode(*head + *rest);
    if (!reply) co_return plugin::fail(reply.error().code, where_ + ": " + reply.error().message);
    // Only an exhaust cursor would answer out of turn; we never ask for one, but skip strays.
    if (reply->response_to != m.request_id) continue;
    auto doc = bson::decode(reply->body);
    if (!doc) co_return plugin::fail(doc.error().code, where_ + ": the reply: " + doc.error().message);
    co_return std::move(*doc);
  }
}

namespace {

std::string hello_command(bool legacy) {
  bson::writer driver;
  driver.add_string("name", "chainsd-docdb").add_string("version", "1.0.0");
  bson::writer os;
  os.add_string("type", "Linux");
  bson::writer client;
  client.add_document("driver", driver.finish()).add_document("os", os.finish());
  bson::writer cmd;
  cmd.add_int32(legacy ? "isMaster" : "hello", 1).add_document("client", client.finish()).add_string("$db", "admin");
  return cmd.finish();
}

std::string sasl_command(const char* verb, std::int32_t conversation, std::string_view payload, const std::string& db) {
  bson::writer cmd;
  cmd.add_int32(verb, 1);
  if (conversation >= 0) cmd.add_int32("conversationId", conversation);
  if (conversation < 0) cmd.add_string("mechanism", "SCRAM-SHA-256");
  cmd.add_binary("payload", payload);
  if (conversation < 0) {
    bson::writer opts;
    opts.add_bool("skipEmptyExchange", true);
    cmd.add_int32("autoAuthorize", 1).add_document("options", opts.finish());
  }
  cmd.add_string("$db", db);
  return cmd.finish();
}

// saslStart, saslContinue with the proof, and (unless the server skipped it) an empty last step.
asio::awaitable<plugin::result<void>> scram_sha256(connection& c, const server_address& a) {
  const std::string what = c.where() + ": SCRAM-SHA-256 authentication of user \"" + a.user + "\" (authSource " +
                           a.auth_source + ")";
  if (!scram::printable_ascii(a.password) || !scram::printable_ascii(a.user))
    co_return plugin::fail(plugin::errc::bad_config, what + ": only printable ASCII user names and passwords are supported");
  scram::client sc{a.user, a.password, scram::make_nonce(), {}, {}};
  auto first = co_await c.run(sasl_command("saslStart", -1, sc.first_message(), a.auth_source));
  if (!first) co_return first.error();
  if (auto e = reply_error(*first, what)) co_return *e;
  const bson::value* id = first->find("conversationId");
  const bson::value* payload = first->find("payload");
  if (!id || !id->is_number() || !payload || payload->kind != bson::type::binary)
    co_return plugin::fail(plugin::errc::permanent, what + ": a saslStart reply without conversationId or payload");
  const auto conversation = static_cast<std::int32_t>(id->as_double());
  auto final_msg = sc.final_message(payload->bytes);
  if (!final_msg) co_return plugin::fail(final_msg.error().code, what + ": " + final_msg.error().message);
  auto second = co_await c.run(sasl_command("saslContinue", conversation, *final_msg, a.auth_source));
  if (!second) co_return second.error();
  if (auto e = reply_error(*second, what)) co_return *e;
  const bson::value* p2 = second->find("payload");
  if (!p2 || p2->kind != bson::type::binary)
    co_return plugin::fail(plugin::errc::permanent, what + ": a saslContinue reply without payload");
  if (auto v = sc.verify(p2->bytes); !v) co_return plugin::fail(v.error().code, what + ": " + v.error().message);
  const bson::value* done = second->find("done");
  if (done && done->kind == bson::type::boolean && done->flag) co_return plugin::result<void>{};
  auto third = co_await c.run(sasl_command("saslContinue", conversation, "", a.auth_source));
  if (!third) co_return third.error();
  if (auto e = reply_error(*third, what)) co_return *e;
  co_return plugin::result<void>{};
}

// The handshake on a fresh connection: hello (isMaster on servers before 4.4.2), then SCRAM.
asio::awaitable<plugin::result<void>> handshake(connection& c, const server_address& a) {
  auto reply = co_await c.run(hello_command(false));
  if (!reply) co_return reply.error();
  if (const bson::value* code = reply->find("code"); code && code->is_number() && code->as_double() == 59) {
    reply = co_await c.run(hello_command(true));
    if (!reply) co_return reply.error();
  }
  if (auto e = reply_error(*reply, c.where() + ": hello")) co_return *e;
  const bson::value* wire = reply->find("maxWireVersion");
  if (!wire || !wire->is_number() || wire->as_double() < 6)
    co_return plugin::fail(plugin::errc::bad_config, c.where() + ": the server is older than MongoDB 3.6 (no OP_MSG)");
  const bson::value* primary = reply->find("isWritablePrimary");
  if (!primary) primary = reply->find("ismaster");
  if (!primary || primary->kind != bson::type::boolean || !primary->flag)
    co_return plugin::fail(plugin::errc::retryable, c.where() + ": not a writable primary" +
                                                        (reply->find("secondary") ? " (a secondary)" : std::string()));
  if (!a.user.empty()) {
    auto auth = co_await scram_sha256(c, a);
    if (!auth) co_return auth.error();
  }
  co_return plugin::result<void>{};
}

}  // namespace

asio::awaitable<plugin::result<std::unique_ptr<connection>>> open_connection(plugin::host& h, server_address a) {
  std::string errors;
  plugin::errc worst = plugin::errc::retryable;
  for (const auto& [host, port] : a.hosts) {
    plugin::stream_options o;
    o.host = host;
    o.port = port;
    o.tls = a.tls;
    o.timeout = a.connect_timeout;
    const std::string where = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
    auto s = co_await h.connect(std::move(o));
    plugin::error e;
    if (s) {
      auto c = std::make_unique<connection>(std::move(*s), where, a.socket_timeout);
      auto ok = co_await handshake(*c, a);
      if (ok) co_return std::move(c);
      e = ok.error();
    } else {
      e = s.error();
    }
    // A refused password or certificate is not cured by another host of the same cluster.
    if (e.code != plugin::errc::retryable) co_return e;
    errors += (errors.empty() ? "" : "; ") + e.message;
    worst = e.code;
  }
  co_return plugin::fail(worst, errors.empty() ? "no host" : errors);
}

}  // namespace storage_docdb
