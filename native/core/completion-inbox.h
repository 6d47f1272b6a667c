// CompletionInbox: parker completions waiting for one JS context's event loop. The parker
// thread pushes (under the Parker's lock, so a push never races the context's teardown, which
// first withdraws everything through Parker::CancelAll); the context's JS thread takes them
// all at once. Push reports whether the inbox was empty, so the producer rings the loop's
// doorbell (uv_async_send) once per batch, not once per completion.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "status.h"

namespace shmsync {

struct Completion {
  uint64_t id;
  Status status;
};

class CompletionInbox {
 public:
  // Any thread. True when the inbox was empty before: the caller must signal the consumer.
  bool Push(uint64_t id, Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    items_.push_back(Completion{id, status});
    return items_.size() == 1;
  }
  // Consumer thread: moves every queued completion into *out (cleared first), oldest first.
  void TakeAll(std::vector<Completion>* out) {
    out->clear();
    std::lock_guard<std::mutex> lock(mu_);
    out->swap(items_);
  }

 private:
  std::mutex mu_;
  std::vector<Completion> items_;
};

}  // namespace shmsync
