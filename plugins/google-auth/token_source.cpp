#include "token_source.hpp"

#include <chainsd/plugin/async_event.hpp>

#include <ctime>

namespace google_auth {
namespace plugin = chainsd::plugin;
namespace asio = boost::asio;
using namespace std::chrono_literals;

struct token_source::inflight {
  explicit inflight(asio::any_io_executor ex) : done(std::move(ex)) {}
  plugin::async_event done;  // set when the exchange ends
  std::optional<plugin::error> failure;
};

token_source::token_source(plugin::host& h, credentials c, std::string scope, std::string label, std::string key)
    : host_(h), c_(std::move(c)), scope_(std::move(scope)), label_(std::move(label)), key_(std::move(key)) {
  url_ = c_.service_account_file
             ? c_.sa.token_uri
             : "http://" + c_.metadata_host + "/computeMetadata/v1/instance/service-accounts/default/token";
}

token_source::~token_source() { *alive_ = false; }

std::string token_source::principal() const {
  if (c_.service_account_file) return "service account " + c_.sa.client_email;
  return "the workload identity of chainsd's service account (metadata server " + c_.metadata_host + ")";
}

void token_source::invalidate(const std::string& token) {
  if (token_ && *token_ == token) token_.reset();
}

asio::awaitable<plugin::result<std::string>> token_source::get() {
  if (token_ && clock::now() < refresh_at_) co_return *token_;
  auto alive = alive_;
  if (auto f = inflight_) {
    co_await f->done.wait();
    if (!*alive) co_return plugin::fail(plugin::errc::retryable, label_ + ": closed while waiting for a token");
    if (f->failure) co_return *f->failure;
    if (token_) co_return *token_;
    co_return plugin::fail(plugin::errc::retryable, label_ + ": the token exchange with " + url_ + " was abandoned");
  }
  auto f = std::make_shared<inflight>(host_.executor());
  inflight_ = f;
  // Wakes the waiters however this frame ends (also when it is destroyed while suspended).
  struct wake {
    std::shared_ptr<inflight> f;
    std::shared_ptr<bool> alive;
    token_source* self;
    ~wake() {
      if (*alive && self->inflight_ == f) self->inflight_.reset();
      f->done.set();
    }
  } guard{f, alive, this};
  auto r = co_await fetch();
  if (!*alive) co_return plugin::fail(plugin::errc::retryable, label_ + ": closed while fetching a token");
  if (!r) {
    // A refresh ahead of expiry that fails for now leaves the current token in use until it expires.
    if (r.error().code == plugin::errc::retryable && token_ && clock::now() + grace_ < expires_at_) {
      host_.log(plugin::log_level::warn, "google access token refresh failed; the current one is still valid",
                {{"from", url_}, {"error", r.error().message}});
      refresh_at_ = std::min(clock::now() + 1s, expires_at_ - grace_);  // the next attempt, not one per request
      co_return *token_;
    }
    f->failure = r.error();
    co_return r.error();
  }
  token_ = r->token;
  // Refreshed ahead of expiry, as Google's auth libraries do (3m45s), or at 3/4 of a short lifetime.
  auto lifetime = std::chrono::duration_cast<clock::duration>(r->expires_in);
  expires_at_ = clock::now() + lifetime;
  grace_ = std::min<clock::duration>(10s, lifetime / 8);  // not used closer to its expiry than this
  refresh_at_ = expires_at_ - std::min<clock::duration>(225s, lifetime / 4);
  host_.log(plugin::log_level::debug, "google access token fetched",
            {{"from", url_}, {"expires_in_s", std::to_string(r->expires_in.count())}});
  co_return r->token;
}

asio::awaitable<plugin::result<plugin::http_response>> token_source::send(plugin::http_request req, std::string what) {
  for (int attempt = 0;; ++attempt) {
    auto token = co_await get();
    if (!token) co_return token.error();
    auto r_req = req;
    r_req.headers.emplace_back("Authorization", "Bearer " + *token);
    auto r = co_await host_.http(std::move(r_req));
    if (!r) {
      // The host's message names the method and URL; say it once, so a run's short reason keeps it.
      const auto& m = r.error().message;
      co_return plugin::fail(plugin::errc::retryable,
                             label_ + ": " + what + (m.find(req.url) == std::string::npos ? " at " + req.url : "") + ": " + m);
    }
    if (r->status == 401 && attempt == 0) {
      invalidate(*token);
      continue;
    }
    co_return r;
  }
}

asio::awaitable<plugin::result<access_token>> token_source::fetch() {
  return c_.service_account_file ? fetch_service_account() : fetch_metadata();
}

asio::awaitable<plugin::result<access_token>> token_source::fetch_service_account() {
  const std::string what = label_ + ": token exchange for service account " + c_.sa.client_email + " (" +
                           std::string(credentials_env) + "=" + c_.sa.file + ") at " + url_;
  plugin::http_request req;
  req.method = "POST";
  req.url = url_;
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  try {
    req.body = jwt_grant_body(jwt_assertion(*c_.key, c_.sa.private_key_id, c_.sa.client_email, c_.sa.token_uri, scope_,
                                            static_cast<std::int64_t>(std::time(nullptr))));
  } catch (const std::exception& e) {
    co_return plugin::fail(plugin::errc::permanent, what + ": " + e.what());
  }
  req.timeout = 15s;
  req.replayable = true;  // a second exchange only yields a second token
  auto r = co_await host_.http(std::move(req));
  if (!r) co_return plugin::fail(plugin::errc::retryable, what + ": " + r.error().message);
  if (r->status == 200) {
    auto t = parse_token_response(r->body);
    if (!t) co_return plugin::fail(plugin::errc::retryable, what + ": " + t.error().message);
    co_return t;
  }
  std::string msg = what + ": HTTP " + std::to_string(r->status) + ": " + error_text(r->body);
  // invalid_grant / invalid_client: a deleted or disabled key, a wrong email.
  if (r->status == 400 || r->status == 401 || r->status == 403)
    co_return plugin::fail(plugin::errc::unauthenticated, msg + "; is the key in " + c_.sa.file + " still valid?");
  if (r->status == 408 || r->status == 429 || r->status >= 500) co_return plugin::fail(plugin::errc::retryable, msg);
  co_return plugin::fail(plugin::errc::permanent, msg);
}

asio::awaitable<plugin::result<access_token>> token_source::fetch_metadata() {
  const std::string what = label_ + ": workload identity token from the metadata server " + url_;
  plugin::http_request req;
  req.url = url_;
  req.headers = {{"Metadata-Flavor", "Google"}};
  req.timeout = 5s;
  auto r = co_await host_.http(std::move(req));
  if (!r) {
    if (metadata_answered_) co_return plugin::fail(plugin::errc::retryable, what + ": " + r.error().message);
    // As Google's libraries: no key file and no metadata server means no credentials at all.
    co_return plugin::fail(plugin::errc::bad_config,
                           label_ + " (" + key_ + "): no Google credentials: " +
                               std::string(credentials_env) + " is not set and the metadata server " + url_ +
                               " does not answer (" + r.error().message +
                               "); set it to a service-account key file, or run on GKE with workload identity");
  }
  metadata_answered_ = true;
  if (r->status == 200) {
    auto t = parse_token_response(r->body);
    if (!t) co_return plugin::fail(plugin::errc::retryable, what + ": " + t.error().message);
    co_return t;
  }
  std::string msg = what + ": HTTP " + std::to_string(r->status) + ": " + error_text(r->body);
  if (r->status == 404)
    co_return plugin::fail(plugin::errc::bad_config,
                           msg + "; the pod has no Google service account (workload identity not set up?) and " +
                               std::string(credentials_env) + " is not set");
  if (r->status == 401 || r->status == 403) co_return plugin::fail(plugin::errc::unauthenticated, msg);
  if (r->status == 408 || r->status == 429 || r->status >= 500) co_return plugin::fail(plugin::errc::retryable, msg);
  co_return plugin::fail(plugin::errc::permanent, msg);
}

}  // namespace google_auth
