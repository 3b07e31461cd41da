// The reconciler's decisions with a fake cluster and in-test plugins: annotation state machine,
// filters, and exactly-once in the face of stale and duplicate watch events.
#include <catch2/catch.hpp>

#include "reconciler/reconciler.hpp"
#include "reconciler/run_meta.hpp"
#include "reconciler/sign_run.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <optional>

using namespace chainsd;
using namespace chainsd::reconciler;

namespace {

std::string run_json(const std::string& name, const std::string& uid, const std::string& rv, bool done,
                     const std::string& annotations = "{}", const std::string& managed_by = "") {
  std::string spec = managed_by.empty() ? "{}" : "{\"managedBy\":\"" + managed_by + "\"}";
  return R"({"apiVersion":"tekton.dev/v1","kind":"TaskRun","metadata":{"name":")" + name +
         R"(","namespace":"ns","uid":")" + uid + R"(","resourceVersion":")" + rv + R"(","annotations":)" +
         annotations + R"(},"spec":)" + spec + R"(,"status":{"startTime":"2026-01-01T00:00:00Z",)" +
         (done ? R"("completionTime":"2026-01-01T00:01:00Z","conditions":[{"type":"Succeeded","status":"True"}],)"
               : R"("conditions":[{"type":"Succeeded","status":"Unknown"}],)") +
         R"("taskSpec":{"steps":[{"name":"s","image":"busybox"}]},"steps":[{"name":"s","imageID":"busybox@sha256:)" +
         std::string(64, 'a') + R"("}]}})";
}

kube::watch_event event(const std::string& json, const std::string& uid, const std::string& rv,
                        kube::event_type t = kube::event_type::modified) {
  kube::watch_event e;
  e.type = t;
  e.namespace_name = "ns";
  e.uid = uid;
  e.resource_version = rv;
  e.object = json;
  return e;
}

struct counting_signer final : plugin::signer {
  int calls = 0;
  bool fail = false;
  boost::asio::awaitable<plugin::result<plugin::signature_result>> sign(std::string m) override {
    ++calls;
    if (fail) co_return plugin::fail(plugin::errc::retryable, "test signer refuses");
    co_return plugin::signature_result{"sig:" + std::to_string(m.size()), {}, {}};
  }
  std::string public_key_pem() const override {
    // A fixed P-256 public key, so the engine can compute a key id.
    return "-----BEGIN PUBLIC KEY-----\n"
           "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEBOiqYumsujclXOl4CGGdW46tRjs4\n"
           "2oi8XEki9rNijnEekF6egMrTGZaHmbCTyz2B4VzdRZDD0/7TO4mHleqBDw==\n"
           "-----END PUBLIC KEY-----\n";
  }
};

struct fake_cluster final : cluster {
  int next_rv = 100;
  std::vector<std::map<std::string, std::string>> applies;
  boost::asio::awaitable<patch_outcome> apply_annotations(run_meta, shared_annotations a) override {
    applies.push_back(*a);
    co_return patch_outcome{true, false, std::to_string(++next_rv), ""};
  }
  std::vector<std::string> children;  // what list_child_taskruns answers
  boost::asio::awaitable<std::optional<std::vector<std::string>>> list_child_taskruns(std::string, std::string) override {
    co_return children;
  }
  std::map<std::string, std::string> current;  // name -> JSON, what get_run answers (absent: 404)
  std::vector<std::string> gets;
  boost::asio::awaitable<get_outcome> get_run(run_meta run) override {
    gets.push_back(run.name);
    get_outcome out;
    if (auto it = current.find(run.name); it != current.end()) {
      out.ok = true;
      out.json = it->second;
    } else {
      out.not_found = true;
    }
    co_return out;
  }
  int events = 0;
  boost::asio::awaitable<void> record_event(run_meta, std::string, std::string, std::string) override {
    ++events;
    co_return;
  }
};

struct harness {
  boost::asio::io_context ctx;
  fake_cluster cluster;
  counting_signer* signer = nullptr;
  std::shared_ptr<plugin_set> set;
  std::unique_ptr<chainsd::reconciler::reconciler> rec;

  explicit harness(std::set<std::string> managed_by = {}, std::size_t max_queued_json_bytes = std::size_t{64} << 20) {
    auto cfg = std::make_shared<config::config>(config::default_config());
    cfg->oci.storage = {""};         // images off: one signature per run
    cfg->taskrun.storage = {""};     // storage off too: we look at the patch itself
    cfg->taskrun.storage.clear();
    cfg->pipelinerun.storage.clear();
    cfg->filter_managed_by = std::move(managed_by);
    set = std::make_shared<plugin_set>();
    set->cfg = cfg;
    auto s = std::make_unique<counting_signer>();
    signer = s.get();
    set->signers.emplace("x509", std::move(s));
    reconciler_options o;
    o.retry_base = std::chrono::milliseconds(1);
    o.max_queued_json_bytes = max_queued_json_bytes;
    rec = std::make_unique<chainsd::reconciler::reconciler>(ctx.get_executor(), cluster, [this] { return set; }, o);
    boost::asio::co_spawn(ctx, rec->run(), boost::asio::detached);
  }
  void settle(int ms = 50) {
    ctx.run_for(std::chrono::milliseconds(ms));
  }
  ~harness() {
    rec->stop();
    ctx.run_for(std::chrono::milliseconds(50));
  }
};

}  // namespace

TEST_CASE("next_annotations follows upstream's retry sequence then fails with the reason") {
  std::map<std::string, std::string> a{{"chains.tekton.dev/payload-x", "p"}};
  auto ok = next_annotations(a, {{"chains.tekton.dev/signature-x", "s"}}, {}, false);
  CHECK(ok.annotations.at("chains.tekton.dev/signed") == "true");
  CHECK(ok.annotations.at("chains.tekton.dev/payload-x") == "p");
  CHECK(ok.annotations.count("chains.tekton.dev/error") == 0);

  std::vector<std::string> expected{"0", "1", "2", "3"};
  for (const auto& want : expected) {
    auto r = next_annotations(a, {}, {"signer broke"}, false);
    REQUIRE(r.retry);
    CHECK(r.annotations.at("chains.tekton.dev/retries") == want);
    CHECK(r.annotations.at("chains.tekton.dev/error") == "signer broke");
    CHECK(r.annotations.count("chains.tekton.dev/signed") == 0);
    a = r.annotations;
  }
  auto last = next_annotations(a, {}, {"signer broke"}, false);
  CHECK(last.final_failure);
  CHECK(last.annotations.at("chains.tekton.dev/signed") == "failed");

  auto permanent = next_annotations({}, {}, {"malformed run"}, true);
  CHECK(permanent.final_failure);
  auto junk = next_annotations({{"chains.tekton.dev/retries", "x"}}, {}, {"e"}, false);
  CHECK(junk.final_failure);  // upstream: an unparsable count means no retry is available
}

TEST_CASE("managed-by filter as upstream's isManagedByAllowed") {
  CHECK(managed_by_allowed("", {}));
  CHECK(managed_by_allowed("tekton.dev/pipeline", {}));
  CHECK_FALSE(managed_by_allowed("kueue.x-k8s.io/multikueue", {}));
  CHECK(managed_by_allowed("kueue.x-k8s.io/multikueue", {"kueue.x-k8s.io/multikueue"}));
}

TEST_CASE("parse_run_meta reads doneness, chains annotations and children; rejects bad documents") {
  auto m = parse_run_meta(run_json("a", "u1", "5", true, R"({"chains.tekton.dev/signed":"failed","other":"x"})"),
                          run_kind::task_run);
  CHECK(m.done);
  CHECK(m.has_completion_time);
  CHECK(m.reconciled());
  CHECK(m.chains_annotations.size() == 1);
  CHECK_FALSE(parse_run_meta(run_json("a", "u1", "5", false), run_kind::task_run).done);
  CHECK_THROWS_AS(parse_run_meta("{", run_kind::task_run), meta_error);
  CHECK_THROWS_AS(parse_run_meta(R"({"metadata":{"name":"x"}})", run_kind::task_run), meta_error);
}

TEST_CASE("a finished run is signed once; stale and duplicate events do not sign it again") {
  harness h;
  auto unsigned_json = run_json("a", "u1", "10", true);
  h.rec->on_event(run_kind::task_run, event(unsigned_json, "u1", "10", kube::event_type::added));
  h.rec->on_event(run_kind::task_run, event(unsigned_json, "u1", "10"));  // duplicate delivery
  h.settle();
  REQUIRE(h.cluster.applies.size() == 1);
  CHECK(h.cluster.applies[0].at("chains.tekton.dev/signed") == "true");
  CHECK(h.signer->calls == 1);

  // A lagging watch delivers an event older than our patch (rv 101): still unsigned. Ignored.
  h.rec->on_event(run_kind::task_run, event(run_json("a", "u1", "11", true), "u1", "11"));
  h.settle();
  CHECK(h.signer->calls == 1);
  CHECK(h.cluster.applies.size() == 1);

  // The echo of our own patch, then later changes, carry signed=true: nothing to do.
  auto signed_json = run_json("a", "u1", "101", true, R"({"chains.tekton.dev/signed":"true"})");
  h.rec->on_event(run_kind::task_run, event(signed_json, "u1", "101"));
  h.settle();
  CHECK(h.signer->calls == 1);
  CHECK(h.rec->tracked() == 0);
}

TEST_CASE("the echo of our own patch is not read again; only that exact version is skipped") {
  harness h;
  h.rec->on_event(run_kind::task_run, event(run_json("a", "u1", "10", true), "u1", "10", kube::event_type::added));
  h.settle();
  REQUIRE(h.cluster.applies.size() == 1);  // our patch made rv 101
  // An event at exactly rv 101 is the version our patch produced: it is not parsed (a document
  // that, read, would ask for signing is ignored; the real one carries signed=true).
  h.rec->on_event(run_kind::task_run, event(run_json("a", "u1", "101", true), "u1", "101"));
  h.settle();
  CHECK(h.signer->calls == 1);
  CHECK(h.rec->tracked() == 0);
  // A later version is read as usual: someone removed the signed annotation, so it is signed again.
  h.rec->on_event(run_kind::task_run, event(run_json("a", "u1", "150", true), "u1", "150"));
  h.settle();
  CHECK(h.signer->calls == 2);
  CHECK(h.cluster.applies.size() == 2);
}

TEST_CASE("a PipelineRun waiting for its child is woken by the echo of the child's signing patch") {
  harness h;
  auto child = [](const std::string& rv, const std::string& annotations) {
    auto j = run_json("c", "uc", rv, true, annotations);
    auto at = j.find(R"("annotations":)");
    return j.insert(at, R"("labels":{"tekton.dev/pipelineRun":"p","tekton.dev/pipelineTask":"t"},)");
  };
  const std::string parent =
      R"({"apiVersion":"tekton.dev/v1","kind":"PipelineRun","metadata":{"name":"p","namespace":"ns","uid":"up",)"
      R"("resourceVersion":"20","annotations":{}},"spec":{},"status":{"startTime":"2026-01-01T00:00:00Z",)"
      R"("completionTime":"2026-01-01T00:02:00Z","conditions":[{"type":"Succeeded","status":"True"}],)"
      R"("pipelineSpec":{"tasks":[{"name":"t","taskRef":{"name":"build"}}]},)"
      R"("childReferences":[{"apiVersion":"tekton.dev/v1","kind":"TaskRun","name":"c","pipelineTaskName":"t"}]}})";
  h.cluster.children = {child("10", "{}")};
  h.rec->on_event(run_kind::pipeline_run, event(parent, "up", "20", kube::event_type::added));
  h.settle();
  CHECK(h.cluster.applies.empty());  // the child is not signed yet: the parent waits
  CHECK(h.rec->tracked() == 1);
  h.rec->on_event(run_kind::task_run, event(child("10", "{}"), "uc", "10", kube::event_type::added));
  h.settle();
  REQUIRE(h.cluster.applies.size() == 1);  // the child, now at rv 101
  CHECK(h.rec->tracked() == 1);            // the parent still waits: it has not heard of it
  h.cluster.children = {child("101", R"({"chains.tekton.dev/signed":"true"})")};
  h.rec->on_event(run_kind::task_run, event(child("101", R"({"chains.tekton.dev/signed":"true"})"), "uc", "101"));
  h.settle();
  REQUIRE(h.cluster.applies.size() == 2);
  CHECK(h.cluster.applies[1].at("chains.tekton.dev/signed") == "true");
  CHECK(h.rec->tracked() == 0);
}

TEST_CASE("beyond max_queued_json_bytes queued runs keep metadata only and are read again when their turn comes") {
  const auto doc = run_json("r0", "u0", "10", true);
  harness h({}, 2 * doc.size() + 10);  // room for two documents
  for (int i = 0; i < 5; ++i) {
    auto name = "r" + std::to_string(i), uid = "u" + std::to_string(i);
    h.cluster.current[name] = run_json(name, uid, "20", true);  // what a GET sees now
    h.rec->on_event(run_kind::task_run, event(run_json(name, uid, "10", true), uid, "10", kube::event_type::added));
  }
  // r3 was deleted, r4 signed by someone else, before their turn.
  h.cluster.current.erase("r3");
  h.cluster.current["r4"] = run_json("r4", "u4", "21", true, R"({"chains.tekton.dev/signed":"true"})");
  h.settle();
  // Two documents were kept (r0, r1); r2..r4 were read again; r3 is gone, r4 needs nothing.
  CHECK(h.cluster.gets == std::vector<std::string>{"r2", "r3", "r4"});
  CHECK(h.cluster.applies.size() == 3);
  CHECK(h.signer->calls == 3);
  CHECK(h.rec->tracked() == 0);
}

TEST_CASE("running runs and runs of other managers are left alone") {
  harness h;
  h.rec->on_event(run_kind::task_run, event(run_json("r", "u2", "10", false), "u2", "10"));
  h.rec->on_event(run_kind::task_run, event(run_json("k", "u3", "11", true, "{}", "kueue"), "u3", "11"));
  h.settle();
  CHECK(h.signer->calls == 0);
  CHECK(h.cluster.applies.empty());
  CHECK(h.rec->tracked() == 0);
}

TEST_CASE("failures retry with backoff, then mark failed with a Warning event") {
  harness h;
  h.signer->fail = true;
  auto json = run_json("f", "u4", "10", true);
  h.rec->on_event(run_kind::task_run, event(json, "u4", "10"));
  // Retries happen from chainsd's own memory of what it wrote, even without new watch events.
  h.settle(400);
  REQUIRE(h.cluster.applies.size() == 5);
  CHECK(h.cluster.applies[0].at("chains.tekton.dev/retries") == "0");
  CHECK(h.cluster.applies[3].at("chains.tekton.dev/retries") == "3");
  CHECK(h.cluster.applies[4].at("chains.tekton.dev/signed") == "failed");
  CHECK_THAT(h.cluster.applies[4].at("chains.tekton.dev/error"), Catch::Contains("test signer refuses"));
  CHECK(h.cluster.events == 1);
  CHECK(h.signer->calls == 5);
}

// artifacts.oci.sign-platform-manifests: sign_run asks the storage that reads image indexes for
// the manifests under each image the run reported and signs each like the image itself.
namespace {

const std::string index_hex = std::string(64, '1');
const std::string amd64_hex = std::string(64, '2');
const std::string arm64_hex = std::string(64, '3');
const std::string repo = "registry.example.com/team/app";

std::string image_run_json() {
  // IMAGES names the index and (as some build tasks do) one of its platform manifests.
  return R"({"apiVersion":"tekton.dev/v1","kind":"TaskRun","metadata":{"name":"build","namespace":"ns","uid":"u9",)"
         R"("resourceVersion":"10"},"spec":{"serviceAccountName":"builder"},"status":{"startTime":"2026-01-01T00:00:00Z",)"
         R"("completionTime":"2026-01-01T00:01:00Z","conditions":[{"type":"Succeeded","status":"True"}],)"
         R"("taskSpec":{"steps":[{"name":"s","image":"busybox"}]},"steps":[{"name":"s","imageID":"busybox@sha256:)" +
         std::string(64, 'a') + R"("}],"results":[{"name":"IMAGES","type":"string","value":")" + repo + "@sha256:" +
         index_hex + ", " + repo + "@sha256:" + arm64_hex + R"("}]}})";
}

struct index_storage final : plugin::storage {
  bool capable = true;
  std::optional<plugin::error> list_error;
  std::map<std::string, std::vector<std::string>> indexes;  // image → digests it lists
  std::vector<plugin::run_ref> list_calls;
  std::vector<std::string> listed_images;
  std::vector<plugin::store_request> stored;
  boost::asio::awaitable<plugin::result<plugin::store_result>> store(plugin::store_request req) override {
    stored.push_back(std::move(req));
    co_return plugin::store_result{};
  }
  bool reads_image_indexes() const override { return capable; }
  boost::asio::awaitable<plugin::result<std::vector<std::string>>> index_manifests(plugin::run_ref run,
                                                                                   std::string image) override {
    list_calls.push_back(run);
    listed_images.push_back(image);
    if (list_error) co_return *list_error;
    auto it = indexes.find(image);
    co_return it == indexes.end() ? std::vector<std::string>{} : it->second;
  }
};

struct image_harness {
  boost::asio::io_context ctx;
  counting_signer* signer = nullptr;
  index_storage* storage = nullptr;
  std::shared_ptr<plugin_set> set = std::make_shared<plugin_set>();

  explicit image_harness(bool key, bool capable = true) {
    auto cfg = std::make_shared<config::config>(config::default_config());
    cfg->taskrun.storage = {""};  // provenance off: only image signatures
    cfg->oci.storage = {"registry"};
    cfg->oci.sign_platform_manifests = key;
    set->cfg = cfg;
    auto s = std::make_unique<counting_signer>();
    signer = s.get();
    set->signers.emplace("x509", std::move(s));
    auto st = std::make_unique<index_storage>();
    st->capable = capable;
    st->indexes[repo + "@sha256:" + index_hex] = {"sha256:" + amd64_hex, "sha256:" + arm64_hex};
    storage = st.get();
    set->storages.emplace("registry", std::move(st));
    pick_index_reader(*set);
  }
  sign_outcome sign() {
    auto json = image_run_json();
    auto fut = boost::asio::co_spawn(ctx, sign_run(set, parse_run_meta(json, run_kind::task_run), json, {}),
                                     boost::asio::use_future);
    ctx.run();
    return fut.get();
  }
  std::map<std::string, plugin::store_request> stored_by_image() const {
    std::map<std::string, plugin::store_request> m;
    for (const auto& r : storage->stored) m[r.image] = r;
    return m;
  }
};

std::string simplesigning(const std::string& hex) {
  return R"({"critical":{"identity":{"docker-reference":")" + repo +
         R"("},"image":{"docker-manifest-digest":"sha256:)" + hex +
         R"("},"type":"cosign container image signature"},"optional":null})";
}

}  // namespace

TEST_CASE("sign-platform-manifests: every manifest an index lists is signed and stored like the index") {
  image_harness h(true);
  REQUIRE(h.set->index_reader == h.storage);
  CHECK(h.set->index_error.empty());
  auto out = h.sign();
  INFO((out.errors.empty() ? std::string() : out.errors[0]));
  CHECK(out.errors.empty());
  // The index and its two platform manifests, the arm64 one once although the run reported it too.
  CHECK(h.signer->calls == 3);
  CHECK(out.signed_count == 3);
  CHECK(out.stored_count == 3);
  auto stored = h.stored_by_image();
  REQUIRE(stored.size() == 3);
  for (const auto& hex : {index_hex, amd64_hex, arm64_hex}) {
    INFO(hex);
    const auto& r = stored.at(repo + "@sha256:" + hex);
    CHECK(r.kind == plugin::artifact_kind::oci);
    CHECK(r.payload == simplesigning(hex));
    CHECK(r.signature == "sig:" + std::to_string(r.payload.size()));  // the raw signature over the payload
    CHECK(r.short_key == hex.substr(0, 12));
    CHECK(r.full_key == r.image);
    CHECK(r.run.service_account == "builder");
  }
  // Each reported image was asked about once (the platform manifests themselves are not).
  CHECK(h.storage->listed_images ==
        std::vector<std::string>{repo + "@sha256:" + index_hex, repo + "@sha256:" + arm64_hex});
  REQUIRE(!h.storage->list_calls.empty());
  CHECK(h.storage->list_calls[0].service_account == "builder");
  CHECK(h.storage->list_calls[0].namespace_name == "ns");
}

TEST_CASE("sign-platform-manifests off: indexes are not read, only the reported images are signed") {
  image_harness h(false);
  CHECK(h.set->index_reader == nullptr);
  CHECK(h.set->index_error.empty());
  auto out = h.sign();
  CHECK(out.errors.empty());
  CHECK(h.storage->listed_images.empty());
  CHECK(h.stored_by_image().size() == 2);
}

TEST_CASE("sign-platform-manifests without a storage that reads indexes: the error names the key") {
  image_harness h(true, false);
  CHECK(h.set->index_reader == nullptr);
  CHECK_THAT(h.set->index_error, Catch::Contains("artifacts.oci.sign-platform-manifests is true") &&
                                     Catch::Contains("artifacts.oci.storage (registry)"));
  auto out = h.sign();
  REQUIRE(out.errors.size() == 2);  // one per reported image
  CHECK_THAT(out.errors[0], Catch::Contains(repo + "@sha256:" + index_hex) && Catch::Contains("ns/build") &&
                                Catch::Contains("artifacts.oci.sign-platform-manifests"));
  CHECK(out.error_type == "payload_creation");
  CHECK_FALSE(out.permanent);  // retried: a config fix in the meantime lets the retry through
  // What could be signed still is.
  CHECK(h.stored_by_image().size() == 2);
  CHECK(h.storage->listed_images.empty());
}

TEST_CASE("sign-platform-manifests: a failed index read fails the pass naming the image; the rest is stored") {
  image_harness h(true);
  h.storage->list_error = plugin::fail(plugin::errc::retryable, "registry.example.com unreachable");
  auto out = h.sign();
  REQUIRE(out.errors.size() == 2);
  CHECK_THAT(out.errors[0], Catch::Contains("listing the manifests of image index " + repo + "@sha256:" + index_hex) &&
                                Catch::Contains("registry.example.com unreachable"));
  CHECK_FALSE(out.permanent);
  CHECK(h.stored_by_image().size() == 2);
}

TEST_CASE("sign-platform-manifests: a malformed digest from the storage is an error, not a signature") {
  image_harness h(true);
  h.storage->indexes[repo + "@sha256:" + index_hex] = {"sha256:XYZ", "sha256:" + amd64_hex};
  auto out = h.sign();
  REQUIRE(out.errors.size() == 1);
  CHECK_THAT(out.errors[0], Catch::Contains("\"sha256:XYZ\" is not a manifest digest"));
  auto stored = h.stored_by_image();
  CHECK(stored.size() == 3);
  CHECK(stored.count(repo + "@sha256:" + amd64_hex) == 1);
}
