#include "aws_credentials.hpp"

#include "aws_api.hpp"
#include "token_file.hpp"

#include <cstdlib>

namespace signer_kms {

namespace plugin = chainsd::plugin;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

constexpr auto renew_before = 5min;

}  // namespace

credential_source::credential_source(plugin::host& h, std::string region, std::optional<aws_credentials> fixed,
                                     std::optional<web_identity> web)
    : host_(h), region_(std::move(region)), current_(std::move(fixed)), web_(std::move(web)), flight_(h.executor()) {}

plugin::result<std::unique_ptr<credential_source>> credential_source::from_env(plugin::host& h,
                                                                               const std::string& region) {
  if (!env("AWS_ACCESS_KEY_ID").empty() || !env("AWS_SECRET_ACCESS_KEY").empty()) {
    if (env("AWS_ACCESS_KEY_ID").empty() || env("AWS_SECRET_ACCESS_KEY").empty())
      return plugin::fail(plugin::errc::bad_config, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
    aws_credentials c{env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"), env("AWS_SESSION_TOKEN")};
    return std::make_unique<credential_source>(h, region, std::move(c), std::nullopt);
  }
  if (!env("AWS_WEB_IDENTITY_TOKEN_FILE").empty() && !env("AWS_ROLE_ARN").empty()) {
    web_identity w;
    w.role_arn = env("AWS_ROLE_ARN");
    w.token_file = env("AWS_WEB_IDENTITY_TOKEN_FILE");
    w.session_name = env("AWS_ROLE_SESSION_NAME");
    if (w.session_name.empty()) w.session_name = "chainsd";
    w.sts_url = env("AWS_ENDPOINT_URL_STS");
    if (w.sts_url.empty()) w.sts_url = env("AWS_ENDPOINT_URL");
    if (w.sts_url.empty()) w.sts_url = "https://sts." + region + ".amazonaws.com" + (region.rfind("cn-", 0) == 0 ? ".cn" : "");
    while (!w.sts_url.empty() && w.sts_url.back() == '/') w.sts_url.pop_back();
    return std::make_unique<credential_source>(h, region, std::nullopt, std::move(w));
  }
  return plugin::fail(plugin::errc::bad_config,
                      "no AWS credentials for signers.kms.kmsref: set AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, or "
                      "AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE (IRSA) in chainsd's environment");
}

std::string credential_source::describe() const {
  return web_ ? "web identity " + web_->role_arn + " via " + web_->sts_url : "environment";
}

void credential_source::invalidate() {
  if (web_) current_.reset();
}

bool credential_source::fresh() const {
  return current_ && (!web_ || std::chrono::system_clock::now() + renew_before < current_->expires);
}

asio::awaitable<plugin::result<void>> credential_source::renew() {
  auto r = co_await assume_role();
  if (!r) co_return r.error();
  current_ = std::move(*r);
  co_return plugin::result<void>{};
}

asio::awaitable<plugin::result<aws_credentials>> credential_source::get() {
  auto fresh = [this] { return this->fresh(); };
  auto renew = [this] { return this->renew(); };
  auto r = co_await flight_.ensure(fresh, renew);
  if (!r) co_return r.error();
  co_return *current_;
}

asio::awaitable<plugin::result<aws_credentials>> credential_source::assume_role() {
  std::string token;
  try {
    token = token_file(web_->token_file, {}).get();
  } catch (const std::exception& e) {
    co_return plugin::fail(plugin::errc::unauthenticated, std::string("AWS_WEB_IDENTITY_TOKEN_FILE: ") + e.what());
  }
  plugin::http_request req;
  req.method = "POST";
  req.url = web_->sts_url + "/";
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  req.body = aws::assume_role_form(web_->role_arn, web_->session_name, token);
  req.timeout = 15s;
  auto resp = co_await host_.http(std::move(req));
  const std::string what = "STS " + web_->sts_url + " AssumeRoleWithWebIdentity for " + web_->role_arn;
  if (!resp) co_return plugin::fail(resp.error().code, what + ": " + resp.error().message);
  if (resp->status != 200) {
    auto why = aws::sts_error(resp->body);
    std::string msg = what + ": HTTP " + std::to_string(resp->status) + (why.empty() ? "" : ": " + why);
    co_return plugin::fail(resp->status >= 500 || resp->status == 429 ? plugin::errc::retryable
                                                                       : plugin::errc::unauthenticated,
                           msg);
  }
  auto c = aws::parse_assume_role(resp->body);
  if (!c) co_return plugin::fail(c.error().code, what + ": " + c.error().message);
  host_.log(plugin::log_level::info, "aws web identity credentials obtained",
            {{"role", web_->role_arn}, {"access_key", c->access_key}});
  co_return *c;
}

}  // namespace signer_kms
