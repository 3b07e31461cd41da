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

bool container_url_allowed(const std::string& url) {
  if (url.rfind("https://", 0) == 0) return true;
  if (url.rfind("http://", 0) != 0) return false;
  auto rest = url.substr(7);
  auto host = rest.substr(0, rest.find('/'));
  if (host.rfind("[", 0) == 0) host = host.substr(0, host.find(']') + 1);
  else host = host.substr(0, host.find(':'));
  return host.rfind("127.", 0) == 0 || host == "localhost" || host == "[::1]" || host == "169.254.170.2" ||
         host == "169.254.170.23" || host == "[fd00:ec2::23]";
}

}  // namespace

credential_source::credential_source(plugin::host& h, std::string region, std::optional<aws_credentials> fixed,
                                     std::optional<web_identity> web, std::optional<container_endpoint> container)
    : host_(h),
      region_(std::move(region)),
      current_(std::move(fixed)),
      web_(std::move(web)),
      container_(std::move(container)),
      flight_(h.executor()) {}

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
  if (!env("AWS_CONTAINER_CREDENTIALS_FULL_URI").empty() || !env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").empty()) {
    container_endpoint c;
    c.url = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").empty() ? env("AWS_CONTAINER_CREDENTIALS_FULL_URI")
                                                                   : "http://169.254.170.2" +
                                                                         env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    c.token = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    c.token_file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    if (!container_url_allowed(c.url))
      return plugin::fail(plugin::errc::bad_config,
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI \"" + c.url +
                              "\": http:// is allowed only to loopback, 169.254.170.2 or 169.254.170.23 (as the AWS SDKs)");
    return std::make_unique<credential_source>(h, region, std::nullopt, std::nullopt, std::move(c));
  }
  return plugin::fail(plugin::errc::bad_config,
                      "no AWS credentials for signers.kms.kmsref: set AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, "
                      "AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE (IRSA), or AWS_CONTAINER_CREDENTIALS_FULL_URI / "
                      "_RELATIVE_URI in chainsd's environment");
}

std::string credential_source::describe() const {
  if (web_) return "web identity " + web_->role_arn + " via " + web_->sts_url;
  if (container_) return "container credentials " + container_->url;
  return "environment";
}

void credential_source::invalidate() {
  if (temporary()) current_.reset();
}

bool credential_source::fresh() const {
  return current_ && (!temporary() || std::chrono::system_clock::now() + renew_before < current_->expires);
}

asio::awaitable<plugin::result<void>> credential_source::renew() {
  // Not a ?: of two co_awaits: g++ 12 mishandles temporaries there (DESIGN.md).
  plugin::result<aws_credentials> r = plugin::fail(plugin::errc::permanent, "no source");
  if (container_)
    r = co_await from_container();
  else
    r = co_await assume_role();
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

namespace signer_kms {

asio::awaitable<plugin::result<aws_credentials>> credential_source::from_container() {
  plugin::http_request req;
  req.url = container_->url;
  req.timeout = 5s;
  std::string auth = container_->token;
  if (!container_->token_file.empty()) {
    try {
      auth = token_file(container_->token_file, {}).get();
    } catch (const std::exception& e) {
      co_return plugin::fail(plugin::errc::unauthenticated, std::string("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: ") + e.what());
    }
  }
  if (!auth.empty()) req.headers.emplace_back("Authorization", auth);
  const std::string what = "AWS container credentials " + container_->url;
  auto resp = co_await host_.http(std::move(req));
  if (!resp) co_return plugin::fail(resp.error().code, what + ": " + resp.error().message);
  if (resp->status != 200)
    co_return plugin::fail(resp->status >= 500 || resp->status == 429 ? plugin::errc::retryable
                                                                       : plugin::errc::unauthenticated,
                           what + ": HTTP " + std::to_string(resp->status) + ": " + resp->body.substr(0, 200));
  auto c = aws::parse_container_credentials(resp->body);
  if (!c) co_return plugin::fail(c.error().code, what + ": " + c.error().message);
  co_return *c;
}

}  // namespace signer_kms
