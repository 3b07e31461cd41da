// Composition: the reconciler's public face over its state (reconciler_impl.hpp).
#include "reconciler/reconciler_impl.hpp"

namespace chainsd::reconciler {

void reconciler::impl::init() {
  std::weak_ptr<impl> weak = shared_from_this();
  clock_.on_advance([weak] {
    if (auto self = weak.lock()) self->poke();
  });
}

void reconciler::impl::update_gauges() {
  metrics_.queue_depth->set(static_cast<double>(queue_.ready()));
  metrics_.in_flight->set(static_cast<double>(in_flight_ + log_waiting_));
  metrics_.progress_bytes->set(static_cast<double>(progress_bytes_));
}

reconciler::reconciler(asio::any_io_executor ex, cluster& c, plugin_set_provider plugins, reconciler_options o)
    : impl_(std::make_shared<impl>(ex, c, std::move(plugins), std::move(o))) {
  impl_->init();
}
reconciler::~reconciler() = default;

void reconciler::on_event(run_kind kind, kube::watch_event ev) { impl_->on_event(kind, std::move(ev)); }
asio::awaitable<void> reconciler::run() { return impl_->run(); }
void reconciler::stop() {
  impl_->stopping_ = true;
  impl_->poke();
}
void reconciler::cancel() { impl_->cancel(); }
void reconciler::drop_unowned() { impl_->drop_unowned(); }
void reconciler::rescan(run_kind kind) { impl_->rescan(kind); }
void reconciler::hold_rescans(bool held) { impl_->rescans_held_ = held; }
std::size_t reconciler::queued() const { return impl_->queue_.ready(); }
std::size_t reconciler::in_flight() const { return impl_->passes_.size(); }
std::size_t reconciler::tracked() const { return impl_->entries_.size(); }

}  // namespace chainsd::reconciler
