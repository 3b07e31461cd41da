#include "kube/list_pager.hpp"

#include <cctype>

namespace chainsd::kube {
namespace asio = boost::asio;

namespace {
constexpr std::size_t max_status_bytes = 64 * 1024;

std::string_view header(const net::header_list& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < k.size() && same; ++i)
      same = std::tolower(static_cast<unsigned char>(k[i])) == std::tolower(static_cast<unsigned char>(name[i]));
    if (same) return v;
  }
  return {};
}
}  // namespace

asio::awaitable<list_page> read_list_page(client& c, resource r, std::string ns, list_options o,
                                          page_limits limits, list_splitter::item_fn on_item,
                                          list_splitter::oversize_fn on_oversize) {
  const unsigned limit = o.limit;
  auto stream = co_await c.open_list(std::move(r), std::move(ns), std::move(o));
  list_page page;
  std::string buf;
  if (stream->status() != 200) {
    page.how = list_page::end::refused;
    page.retry_after = parse_retry_after(header(stream->headers(), "Retry-After"));
    while (buf.size() < max_status_bytes && co_await stream->read_some(buf, limits.idle_timeout) > 0) {
    }
    page.refused = result{stream->status(), std::move(buf)};
    co_return page;
  }
  std::size_t handed = 0;
  auto count_item = [&](const object_meta& m, std::string_view raw) {
    ++handed;
    on_item(m, raw);
  };
  auto count_oversize = [&](const object_meta& m, std::size_t bytes) {
    ++handed;
    on_oversize(m, bytes);
  };
  list_splitter splitter(limits.max_item_bytes, count_item, count_oversize);
  for (;;) {
    buf.clear();
    if (co_await stream->read_some(buf, limits.idle_timeout) == 0) break;
    splitter.feed(buf);
    if (splitter.bytes_seen() > limits.max_page_bytes && limit != 1) {
      // Items handed out so far come again on the smaller page; the caller's known_set drops
      // the repeats. (A one-item page is never cut: max_item_bytes bounds it.)
      page.how = list_page::end::over_budget;
      page.bytes = splitter.bytes_seen();
      page.items = handed;
      stream->close();
      co_return page;
    }
  }
  page.meta = splitter.finish();
  page.bytes = splitter.bytes_seen();
  page.items = handed;
  co_return page;
}

unsigned smaller_limit(unsigned limit, const list_page& page, std::size_t max_page_bytes) {
  unsigned next = limit > 1 ? limit / 2 : 1;
  if (page.how == list_page::end::over_budget && page.items > 0) {
    const std::size_t per_item = page.bytes / page.items + 1;
    while (next > 1 && static_cast<std::size_t>(next) * per_item > max_page_bytes) next /= 2;
  }
  return next;
}

}  // namespace chainsd::kube
