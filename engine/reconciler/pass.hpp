#pragma once
// The steps of a pass after the plan, artifact by artifact: sign (engine/signing's DSSE adapter
// around the signer plugin) → log (engine/tlog) → store in every configured backend
// concurrently. Each step's result is recorded in the run's progress, and a step already done in
// an earlier pass (same config snapshot, same payload bytes) is not done again. Nothing here
// writes to the run: the caller turns the result into ONE patch.

#include "reconciler/annotations.hpp"
#include "reconciler/plan.hpp"
#include "reconciler/plugin_set.hpp"
#include "reconciler/progress.hpp"

#include <boost/asio/awaitable.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace chainsd::reconciler {

struct pass_result {
  std::map<std::string, std::string> annotations;  // from storage backends (and the log entry URL)
  std::vector<failure> failures;                   // plan failures included
  int signed_count = 0;    // new this pass
  int stored_count = 0;
  int uploaded_count = 0;  // transparency-log entries made or found (409)
  int reused_count = 0;    // steps skipped because an earlier pass did them
};

// Lets a pass give its run slot (--max-in-flight) back while it waits on the transparency log:
// Rekor v2 answers an upload only once a checkpoint covers it (about a second), so 1,000 runs/s
// need about 1,000 uploads waiting, far more than the runs worth signing at once. Taking the
// slot back waits for a free one (before new runs get one): a checkpoint that answers 1,000
// uploads at once does not become 1,000 stores and patches at once.
class slot_lender {
 public:
  virtual ~slot_lender() = default;
  // true: the slot was given back; reclaim() or reclaim_now() follows exactly once.
  virtual bool lend() = 0;
  // Waits until a slot is free (or the pass is cancelled: then at once) and takes it.
  virtual boost::asio::awaitable<void> reclaim() = 0;
  // Takes it back at once, over the limit if need be (a pass ending by an exception).
  virtual void reclaim_now() = 0;
};

// `progress` (shared with the caller, which keeps it for a retry) is updated as steps succeed.
// Never throws for plugin or log failures: they land in `failures` with their class.
// `slots` (may be null) is lent the pass's slot around each log call.
boost::asio::awaitable<pass_result> sign_log_store(std::shared_ptr<plugin_set> set, plan p,
                                                   std::shared_ptr<run_progress> progress,
                                                   slot_lender* slots = nullptr);

}  // namespace chainsd::reconciler
