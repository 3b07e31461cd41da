// storage-docdb's pure parts: BSON bytes (checked against bsonspec.org's examples), OP_MSG
// framing, SCRAM-SHA-256 (RFC 7677's example exchange), settings and upstream's document shape,
// the classes of MongoDB's error codes.
#include <catch2/catch.hpp>

#include "bson.hpp"
#include "document.hpp"
#include "op_msg.hpp"
#include "scram.hpp"
#include "server_error.hpp"
#include "settings.hpp"

#include <chainsd/plugin/encoding.hpp>

using namespace storage_docdb;
namespace plugin = chainsd::plugin;

namespace {
std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s += static_cast<char>(c);
  return s;
}
}  // namespace

TEST_CASE("bson: bsonspec.org's {\"hello\": \"world\"} byte for byte, and back") {
  bson::writer w;
  w.add_string("hello", "world");
  const auto doc = w.finish();
  CHECK(doc == bytes({0x16, 0, 0, 0, 0x02, 'h', 'e', 'l', 'l', 'o', 0, 0x06, 0, 0, 0, 'w', 'o', 'r', 'l', 'd', 0, 0}));
  auto v = bson::decode(doc);
  REQUIRE(v.has_value());
  CHECK(v->string_or("hello") == "world");
}

TEST_CASE("bson: every written type decodes to itself; nested documents and arrays") {
  bson::writer inner;
  inner.add_int32("0", 7).add_null("1");
  const auto arr = inner.finish();
  bson::writer sub;
  sub.add_bool("t", true);
  bson::writer w;
  w.add_double("d", 1.5)
      .add_int64("l", -5000000000LL)
      .add_binary("b", std::string("\0\xff", 2))
      .add_array("a", arr)
      .add_document("s", sub.finish());
  auto v = bson::decode(w.finish());
  REQUIRE(v.has_value());
  CHECK(v->find("d")->kind == bson::type::double_);
  CHECK(v->find("d")->number == 1.5);
  CHECK(v->find("l")->integer == -5000000000LL);
  CHECK(v->find("b")->kind == bson::type::binary);
  CHECK(v->find("b")->bytes == std::string("\0\xff", 2));
  REQUIRE(v->find("a")->items.size() == 2);
  CHECK(v->find("a")->items[0].integer == 7);
  CHECK(v->find("a")->items[1].kind == bson::type::null);
  CHECK(v->find("s")->find("t")->flag);
}

TEST_CASE("bson: truncated or inconsistent input is refused, never read past its end") {
  bson::writer w;
  w.add_string("k", "value");
  const auto good = w.finish();
  for (std::size_t n = 0; n < good.size(); ++n) CHECK_FALSE(bson::decode(good.substr(0, n)).has_value());
  auto lying = good;
  lying[7] = 100;  // the string's length beyond the document
  CHECK_FALSE(bson::decode(lying).has_value());
  CHECK_FALSE(bson::decode(good + "x").has_value());
  auto v = bson::decode(bytes({8, 0, 0, 0, 0x13, 'k', 0, 0}));  // decimal128: not needed, refused by name
  REQUIRE_FALSE(v.has_value());
  CHECK_THAT(v.error().message, Catch::Contains("0x13"));
}

TEST_CASE("bson: JSON as Go's interface{} gives it to the BSON encoder: numbers double, order kept") {
  auto doc = bson::from_json(R"({"z":1,"a":[true,null,"x",{"n":-2.5}],"big":12345678901})");
  REQUIRE(doc.has_value());
  auto v = bson::decode(*doc);
  REQUIRE(v.has_value());
  REQUIRE(v->items.size() == 3);
  CHECK(v->items[0].key == "z");
  CHECK(v->items[0].kind == bson::type::double_);
  CHECK(v->items[1].kind == bson::type::array);
  CHECK(v->items[1].items[3].find("n")->number == -2.5);
  CHECK(v->find("big")->number == 12345678901.0);
  CHECK_FALSE(bson::from_json("[1]").has_value());
  CHECK_FALSE(bson::from_json("not json").has_value());
}

TEST_CASE("op_msg: header, flag bits, kind 0 body and kind 1 sequences round trip") {
  bson::writer b;
  b.add_int32("ping", 1).add_string("$db", "admin");
  op_msg::message m;
  m.request_id = 42;
  m.body = b.finish();
  bson::writer d;
  d.add_string("_id", "x");
  m.sequences.push_back({"documents", {d.finish(), d.finish()}});
  const auto wire = op_msg::encode(m);
  auto h = op_msg::decode_header(wire);
  REQUIRE(h.has_value());
  CHECK(h->length == static_cast<std::int32_t>(wire.size()));
  CHECK(h->request_id == 42);
  CHECK(h->opcode == 2013);
  CHECK(wire.substr(16, 5) == bytes({0, 0, 0, 0, 0}));  // flags 0, then section kind 0
  auto back = op_msg::decode(wire);
  REQUIRE(back.has_value());
  CHECK(back->body == m.body);
  REQUIRE(back->sequences.size() == 1);
  CHECK(back->sequences[0].identifier == "documents");
  CHECK(back->sequences[0].documents.size() == 2);
}

TEST_CASE("op_msg: a checksum is skipped; wrong opcodes, lengths and unknown required flags are refused") {
  bson::writer b;
  b.add_double("ok", 1);
  op_msg::message m;
  m.body = b.finish();
  auto wire = op_msg::encode(m);
  auto with_sum = wire + std::string(4, '\x11');
  with_sum[0] = static_cast<char>(with_sum.size());
  with_sum[16] = 1;  // checksumPresent
  auto r = op_msg::decode(with_sum);
  REQUIRE(r.has_value());
  CHECK(r->body == m.body);
  auto op_reply = wire;
  op_reply[12] = 1;
  CHECK_THAT(op_msg::decode_header(op_reply).error().message, Catch::Contains("opcode 1"));
  auto flags = wire;
  flags[16] = 4;
  CHECK_FALSE(op_msg::decode(flags).has_value());
  CHECK_FALSE(op_msg::decode(wire.substr(0, wire.size() - 1)).has_value());
  auto huge = wire;
  huge[3] = 0x7f;
  CHECK_FALSE(op_msg::decode_header(huge).has_value());
}

TEST_CASE("scram: RFC 7677's SCRAM-SHA-256 exchange (user, pencil)") {
  scram::client c{"user", "pencil", "rOprNGfwEbeRWgbNEkqO", {}, {}};
  CHECK(c.first_message() == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  auto fin = c.final_message("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
  REQUIRE(fin.has_value());
  CHECK(*fin == "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  CHECK(c.verify("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=").has_value());
  CHECK(c.verify("v=AAAA").error().code == plugin::errc::unauthenticated);
  CHECK_FALSE(c.final_message("r=someone-else,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096").has_value());
  CHECK_FALSE(c.final_message("r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1000").has_value());
  CHECK(scram::escape_user("a=b,c") == "a=3Db=2Cc");
}

TEST_CASE("settings: mongo://DB/COLL?id_field=name; other schemes and shapes are bad_config naming the key") {
  auto c = parse_collection_url(" mongo://chains/signatures?id_field=name ");
  REQUIRE(c.has_value());
  CHECK(c->database == "chains");
  CHECK(c->collection == "signatures");
  CHECK(c->revision_field == "DocstoreRevision");
  CHECK(parse_collection_url("mongo://d/c?id_field=name&revision_field=Rev")->revision_field == "Rev");
  for (const char* bad : {"firestore://projects/p/databases/(default)/documents/c?name_field=name",
                          "dynamodb://table?partition_key=name", "https://x/y", "mongo:///c?id_field=name",
                          "mongo://db?id_field=name", "mongo://db/c", "mongo://db/c?id_field=name&x=1", ""}) {
    auto r = parse_collection_url(bad);
    INFO(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == plugin::errc::bad_config);
    CHECK_THAT(r.error().message, Catch::Contains("storage.docdb.url"));
  }
  CHECK_THAT(parse_collection_url("firestore://p/c").error().message, Catch::Contains("firestore"));
}

TEST_CASE("settings: upstream's precedence: -url-path, -url-dir, -url, then MONGO_SERVER_URL") {
  config_values cfg{{"storage.docdb.mongo-server-url", "mongodb://a"},
                         {"storage.docdb.mongo-server-url-dir", "/etc/m/"},
                         {"storage.docdb.mongo-server-url-path", "/run/url"}};
  CHECK(pick_server_url(cfg, "mongodb://env")->file == "/run/url");
  cfg.erase("storage.docdb.mongo-server-url-path");
  CHECK(pick_server_url(cfg, "mongodb://env")->file == "/etc/m/MONGO_SERVER_URL");
  cfg.erase("storage.docdb.mongo-server-url-dir");
  CHECK(pick_server_url(cfg, "mongodb://env")->value == "mongodb://a");
  cfg.clear();
  CHECK(pick_server_url(cfg, "mongodb://env")->key == "MONGO_SERVER_URL");
  auto none = pick_server_url(cfg, std::nullopt);
  REQUIRE_FALSE(none.has_value());
  CHECK_THAT(none.error().message, Catch::Contains("storage.docdb.mongo-server-url-path") && Catch::Contains("MONGO_SERVER_URL"));
  CHECK(trim_file_text("mongodb://h\n") == "mongodb://h");
}

TEST_CASE("settings: connection strings: hosts, ports, credentials (redacted), tls, auth source") {
  auto a = parse_server_url("mongodb://us%40r:p%3Ass@h1,h2:27018,[::1]:3/db?tls=true&replicaSet=rs0&authSource=admin2", "k");
  REQUIRE(a.has_value());
  CHECK(a->hosts.size() == 3);
  CHECK(a->hosts[0] == std::pair<std::string, std::uint16_t>{"h1", 27017});
  CHECK(a->hosts[1].second == 27018);
  CHECK(a->hosts[2].first == "::1");
  CHECK(a->user == "us@r");
  CHECK(a->password == "p:ss");
  CHECK(a->tls);
  CHECK(a->auth_source == "admin2");
  CHECK(a->redacted == "mongodb://us%40r:xxxxx@h1:27017,h2:27018,[::1]:3");
  CHECK(a->redacted.find("p%3Ass") == std::string::npos);
  CHECK(parse_server_url("mongodb://u:p@h/dbx", "k")->auth_source == "dbx");
  for (const char* bad : {"mongodb+srv://cluster.example.com", "http://h", "mongodb://h:0", "mongodb://h:x",
                          "mongodb://h/?authMechanism=SCRAM-SHA-1", "mongodb://h/?tlsCAFile=/ca.pem", "mongodb://"}) {
    auto r = parse_server_url(bad, "storage.docdb.mongo-server-url");
    INFO(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == plugin::errc::bad_config);
    CHECK_THAT(r.error().message, Catch::StartsWith("storage.docdb.mongo-server-url: "));
  }
}

TEST_CASE("document: upstream's field names and types; the upsert command by _id") {
  collection_url coll{"mongo://chains/sigs?id_field=name", "chains", "sigs", "name", "DocstoreRevision"};
  signed_artifact a{"taskrun-uid", R"({"_type":"x","n":2})", "sig\x01", "CERT", ""};
  const auto rev = new_revision();
  CHECK(rev.size() == 36);
  CHECK(rev[14] == '4');
  CHECK(new_revision() != rev);
  auto doc = signed_document(coll, a, rev);
  REQUIRE(doc.has_value());
  auto v = bson::decode(*doc);
  REQUIRE(v.has_value());
  std::vector<std::string> keys;
  for (const auto& m : v->items) keys.push_back(m.key);
  CHECK(keys == std::vector<std::string>{"_id", "Signed", "Signature", "Cert", "Chain", "Object", "Name", "DocstoreRevision"});
  CHECK(v->find("_id")->bytes == "taskrun-uid");
  CHECK(v->find("Signed")->kind == bson::type::binary);
  CHECK(v->find("Signed")->bytes == a.payload);
  CHECK(v->find("Signature")->bytes == plugin::base64_encode("sig\x01"));
  CHECK(v->find("Object")->find("n")->number == 2);
  CHECK(v->find("DocstoreRevision")->bytes == rev);
  auto cmd = bson::decode(upsert_command(coll, a.name, *doc));
  REQUIRE(cmd.has_value());
  CHECK(cmd->items[0].key == "update");
  CHECK(cmd->string_or("update") == "sigs");
  CHECK(cmd->string_or("$db") == "chains");
  const auto& u = cmd->find("updates")->items.at(0);
  CHECK(u.find("q")->string_or("_id") == "taskrun-uid");
  CHECK(u.find("upsert")->flag);
  CHECK(u.find("u")->find("Name")->bytes == "taskrun-uid");
  CHECK_FALSE(signed_document(coll, signed_artifact{"k", "not json", "", "", ""}, rev).has_value());
}

TEST_CASE("server errors: retryable, unauthenticated, permanent by code and label") {
  auto reply = [](double ok, int code, const char* name, bool label = false) {
    bson::writer w;
    w.add_double("ok", ok).add_string("errmsg", "m").add_int32("code", code).add_string("codeName", name);
    if (label) {
      bson::writer l;
      l.add_string("0", "RetryableWriteError");
      w.add_array("errorLabels", l.finish());
    }
    return *bson::decode(w.finish());
  };
  CHECK(reply_error(reply(0, 10107, "NotWritablePrimary"), "w")->code == plugin::errc::retryable);
  CHECK(reply_error(reply(0, 18, "AuthenticationFailed"), "w")->code == plugin::errc::unauthenticated);
  CHECK(reply_error(reply(0, 13, "Unauthorized"), "w")->code == plugin::errc::unauthenticated);
  CHECK(reply_error(reply(0, 2, "BadValue"), "w")->code == plugin::errc::permanent);
  CHECK(reply_error(reply(0, 2, "BadValue", true), "w")->code == plugin::errc::retryable);
  CHECK_THAT(reply_error(reply(0, 10107, "NotWritablePrimary"), "what")->message,
             Catch::StartsWith("what: NotWritablePrimary (10107): m"));
  CHECK_FALSE(reply_error(reply(1, 0, ""), "w").has_value());
  bson::writer we;
  we.add_int32("index", 0).add_int32("code", 11000).add_string("errmsg", "dup");
  bson::writer arr;
  arr.add_document("0", we.finish());
  bson::writer ok;
  ok.add_double("ok", 1).add_array("writeErrors", arr.finish());
  auto e = reply_error(*bson::decode(ok.finish()), "w");
  REQUIRE(e.has_value());
  CHECK(e->code == plugin::errc::retryable);
  CHECK_THAT(e->message, Catch::Contains("write error") && Catch::Contains("dup"));
}

TEST_CASE("bson and op_msg: 5000 mutated replies decode or fail cleanly (run under ASan in CI)") {
  auto doc = bson::from_json(R"({"ok":1,"n":1,"cursor":{"firstBatch":[{"_id":"k","v":[1,2,{"x":null}]}],"id":0},"s":"text"})");
  REQUIRE(doc.has_value());
  op_msg::message m;
  m.body = *doc;
  m.sequences.push_back({"documents", {*doc}});
  const auto wire = op_msg::encode(m);
  std::uint32_t seed = 12345;
  auto next = [&seed] { return seed = seed * 1664525u + 1013904223u; };
  int decoded = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string w = wire;
    const int flips = 1 + static_cast<int>(next() % 4);
    for (int f = 0; f < flips; ++f) w[next() % w.size()] = static_cast<char>(next() & 0xff);
    if (next() % 8 == 0) w.resize(next() % w.size());
    if (auto r = op_msg::decode(w)) {
      if (bson::decode(r->body)) ++decoded;
    }
    auto d = w.size() > op_msg::header_size + 5 ? w.substr(op_msg::header_size + 5) : w;
    (void)bson::decode(d);
  }
  CHECK(decoded > 0);  // some mutations leave a valid message (e.g. a changed string byte)
}
