#include "context.h"

#include "addon-data.h"
#include "errors.h"

namespace shmsync {

Context* Context::Get(Napi::Env env) {
  AddonData* data = GetAddonData(env);
  if (data->context == nullptr) data->context = new Context(env);
  return data->context;
}

Context::Context(Napi::Env env) : env_(env) {
  interrupt_.poll = EnvStopping;
  interrupt_.arg = static_cast<napi_env>(env);
  napi_add_async_cleanup_hook(env, AsyncCleanup, this, &cleanup_);
  Parker::Instance().Attach(this, this);
}

bool Context::EnvStopping(void* arg) {
  // JS thread, inside a blocking native call. napi_set_named_property starts with N-API's
  // preamble, which refuses (napi_pending_exception) once the environment can no longer call
  // into JS: Node sets that from the terminating thread (worker.terminate(), the parent's
  // exit), while this thread sleeps. V8's TerminateExecution itself never reaches a syscall.
  // The property write on a fresh empty object has no other effect.
  auto env = static_cast<napi_env>(arg);
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return true;
  napi_value obj = nullptr;
  napi_value undef = nullptr;
  bool stopping = napi_create_object(env, &obj) != napi_ok ||
                  napi_get_undefined(env, &undef) != napi_ok ||
                  napi_set_named_property(env, obj, "probe", undef) != napi_ok;
  napi_close_handle_scope(env, scope);
  return stopping;
}

Context::~Context() = default;

bool Context::Init(Napi::Env env, uint32_t js_thread_id, Napi::Function dispatch,
                   bool parker_only) {
  if (js_thread_id != 0) js_thread_id_ = js_thread_id;
  if (dispatch_ != nullptr) napi_delete_reference(env, dispatch_);
  dispatch_ = nullptr;
  if (napi_create_reference(env, dispatch, 1, &dispatch_) != napi_ok) return false;
  if (async_open_) return true;
  // The mode comes from this context's process.env (a worker's own environment included), not
  // from getenv(), which sees only the process's: decided once, by the first init().
  ring_allowed_ = !parker_only;
  if (napi_get_uv_event_loop(env, &loop_) != napi_ok || loop_ == nullptr) {
    Napi::Error::New(env, "shmsync: no event loop for this context").ThrowAsJavaScriptException();
    return false;
  }
  Napi::Object resource = Napi::Object::New(env);
  napi_create_reference(env, resource, 1, &resource_);
  napi_async_init(env, resource, Napi::String::New(env, "shmsync.wake"), &async_context_);
  uv_async_init(loop_, &async_, OnAsync);
  async_.data = this;
  // Unreferenced until something is parked: an idle context must not hold its loop open.
  uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
  async_open_ = true;
  return true;
}

void Context::AsyncCleanup(napi_async_cleanup_hook_handle, void* arg) {
  // JS thread of this context, at its teardown (exit or worker.terminate()).
  auto* self = static_cast<Context*>(arg);
  // Withdraw everything first: afterwards the parker thread never touches this context again
  // (Deliver runs under the Parker lock, for requests CancelAll removed). The interrupt poll
  // says "stopping" here: a grant whose phase 2 never comes (forged in shared memory) cannot
  // hold the teardown (robust-lock.h AcceptHandoff). Locks granted but not delivered are
  // released by CancelAll.
  Parker::Instance().CancelAll(self, &self->interrupt_);
  Parker::Instance().Detach(self);
  if (self->owner_ != 0) self->table_->Release(self->owner_);
  self->owner_ = 0;
  if (self->dispatch_ != nullptr) napi_delete_reference(self->env_, self->dispatch_);
  self->dispatch_ = nullptr;
  if (self->async_context_ != nullptr) napi_async_destroy(self->env_, self->async_context_);
  self->async_context_ = nullptr;
  if (self->resource_ != nullptr) napi_delete_reference(self->env_, self->resource_);
  self->resource_ = nullptr;
  // No JS runs in this env after its cleanup hooks, so nothing reads AddonData::context again.
  // The handles are closed asynchronously; Node waits for this hook to be removed.
  if (self->async_open_) {
    ++self->closing_;
    uv_close(reinterpret_cast<uv_handle_t*>(&self->async_), OnClosed);
  }
  if (self->poll_open_) {
    ++self->closing_;
    uv_close(reinterpret_cast<uv_handle_t*>(&self->poll_), OnClosed);
  }
  if (self->closing_ == 0) {
    napi_remove_async_cleanup_hook(self->cleanup_);
    delete self;
  }
}

void Context::OnClosed(uv_handle_t* handle) {
  auto* self = static_cast<Context*>(handle->data);
  if (--self->closing_ > 0) return;
  self->ring_.reset();  // closing the ring fd ends every wait still in flight
  napi_remove_async_cleanup_hook(self->cleanup_);
  delete self;
}

bool Context::EnsureOwner(Napi::Env env, uint32_t js_thread_id) {
  if (owner_ != 0) return true;
  if (!table_) {
    Result r = OwnerTable::Shared(&table_);
    if (!r.ok()) {
      ThrowResult(env, r, "owner table \"" + OwnerTable::SharedName() + "\"");
      return false;
    }
  }
  Result r = table_->Claim(&owner_, js_thread_id != 0 ? js_thread_id : js_thread_id_);
  if (!r.ok()) {
    ThrowResult(env, r,
                r.status == Status::kBusy ? "owner table (no free slot)"
                                          : "owner table (deadman registration)");
    return false;
  }
  return true;
}

void Context::Parked() {
  if (pending_++ == 0 && async_open_ && !referenced_) {
    uv_ref(reinterpret_cast<uv_handle_t*>(&async_));
    referenced_ = true;
  }
}

void Context::Settled(int n) {
  pending_ = pending_ > n ? pending_ - n : 0;
  if (pending_ == 0 && referenced_) {
    uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
    referenced_ = false;
  }
}

int Context::Counted(const std::vector<Completion>& items) {
  int n = 0;
  for (const Completion& c : items) n += unref_.erase(c.id) == 0 ? 1 : 0;
  return n;
}

void Context::Withdrawn(uint64_t id, bool direct) {
  // JS thread (Cancel from JS, or CancelAll at teardown): the request ended without a completion.
  if (direct && ring_ != nullptr) ring_->Cancel(id);
  if (unref_.erase(id) == 0) Settled(1);
}

bool Context::OpenRing() {
  ring_tried_ = true;
  if (!ring_allowed_ || loop_ == nullptr) return false;
  std::unique_ptr<FutexRing> ring = FutexRing::Open();
  if (ring == nullptr) return false;
  if (uv_poll_init(loop_, &poll_, ring->fd()) != 0) return false;
  poll_.data = this;
  poll_open_ = true;
  // Never referenced: async_ alone holds the loop open while anything is outstanding.
  uv_unref(reinterpret_cast<uv_handle_t*>(&poll_));
  if (uv_poll_start(&poll_, UV_READABLE, OnPoll) != 0) return false;  // closed at teardown
  ring_ = std::move(ring);
  return true;
}

bool Context::ArmWatch(uint64_t id, std::atomic<uint32_t>* word, uint32_t expected) {
  // JS thread (inside watchData/watchSpace, or re-arming from OnPoll).
  if (loop_ == nullptr) return false;  // before init(): the parker thread waits
  if (ring_ == nullptr && (ring_tried_ || !OpenRing())) return false;
  return ring_->Wait(word, expected, id);
}

void Context::Deliver(void* target, uint64_t request_id, Status status) {
  // Parker thread, Parker lock held. Non-blocking; a push to an empty inbox rings the doorbell.
  auto* self = static_cast<Context*>(target);
  if (self->inbox_.Push(request_id, status)) uv_async_send(&self->async_);
}

void Context::OnAsync(uv_async_t* handle) {
  // JS thread: the parker thread queued completions.
  auto* self = static_cast<Context*>(handle->data);
  std::vector<Completion> items;
  self->inbox_.TakeAll(&items);
  if (items.empty()) return;
  // Counted down before JS runs: what the handlers park next is counted afresh.
  self->Settled(self->Counted(items));
  self->DeliverToJs(items, true);
}

void Context::OnPoll(uv_poll_t* handle, int status, int) {
  // JS thread: the ring has completions (a watched word was woken, or a wait was cancelled).
  auto* self = static_cast<Context*>(handle->data);
  if (status < 0 || self->ring_ == nullptr) return;
  std::vector<Completion> items;
  Parker& parker = Parker::Instance();
  self->ring_->Drain([&](uint64_t id, int32_t) {
    // Whatever the ring says (woken, EAGAIN, cancelled), the Parker checks the word itself.
    Status st;
    if (parker.CompleteDirect(id, &st)) items.push_back(Completion{id, st});
  });
  if (items.empty()) return;
  self->Settled(self->Counted(items));
  self->DeliverToJs(items, false);
}

void Context::DeliverToJs(const std::vector<Completion>& items, bool forget) {
  // JS thread. The environment may be stopping (worker.terminate()) while the loop still
  // runs: then N-API refuses the call. Nothing may be thrown then (napi_throw into a dying
  // environment aborts the process), and a parker completion stays recorded, so the cleanup
  // hook (CancelAll) releases a lock granted to nobody.
  napi_env env = env_;
  if (dispatch_ == nullptr) return;
  napi_handle_scope outer;
  if (napi_open_handle_scope(env, &outer) != napi_ok) return;
  napi_value resource = nullptr;
  napi_callback_scope scope = nullptr;
  // The callback scope runs the microtasks (the awaiting code) once, after the whole batch.
  if (napi_get_reference_value(env, resource_, &resource) != napi_ok ||
      napi_open_callback_scope(env, resource, async_context_, &scope) != napi_ok) {
    napi_close_handle_scope(env, outer);
    return;
  }
  Parker& parker = Parker::Instance();
  for (const Completion& c : items) {
    napi_handle_scope hs;
    if (napi_open_handle_scope(env, &hs) != napi_ok) break;
    napi_value args[2];
    napi_value fn = nullptr;
    napi_value recv = nullptr;
    napi_value result = nullptr;
    napi_status st = napi_create_double(env, static_cast<double>(c.id), &args[0]);
    if (st == napi_ok) st = napi_create_int32(env, static_cast<int32_t>(c.status), &args[1]);
    if (st == napi_ok) st = napi_get_reference_value(env, dispatch_, &fn);
    if (st == napi_ok) st = napi_get_undefined(env, &recv);
    if (st == napi_ok && fn != nullptr) st = napi_call_function(env, recv, fn, 2, args, &result);
    bool delivered = st == napi_ok;
    bool threw = false;
    napi_is_exception_pending(env, &threw);
    if (threw) {
      napi_value err = nullptr;
      napi_get_and_clear_last_exception(env, &err);
      // A throw from the handler was delivered (reported as uncaught, like any callback's). The
      // termination of this environment (worker.terminate()) also surfaces as an exception:
      // then the dispatcher was cut short, no user code ran (it runs in the microtasks, after
      // this loop), and the completion is not delivered: a grant keeps its record, and the
      // cleanup hook's CancelAll gives the lock back instead of leaving it to a dead owner.
      delivered = !EnvStopping(env);
      if (delivered && err != nullptr) napi_fatal_exception(env, err);
    }
    if (delivered && forget) parker.Forget(c.id);
    napi_close_handle_scope(env, hs);
  }
  napi_close_callback_scope(env, scope);
  napi_close_handle_scope(env, outer);
}

}  // namespace shmsync
