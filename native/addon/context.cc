#include "context.h"

#include "addon-data.h"
#include "errors.h"

namespace shmsync {

namespace {
struct GrantMessage {
  uint64_t id;
  Status status;
};
}  // namespace

Context* Context::Get(Napi::Env env) {
  AddonData* data = GetAddonData(env);
  if (data->context == nullptr) data->context = new Context(env);
  return data->context;
}

Context::Context(Napi::Env env) : env_(env) {
  interrupt_.poll = EnvStopping;
  interrupt_.arg = static_cast<napi_env>(env);
  napi_add_env_cleanup_hook(env, Cleanup, this);
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

void Context::Cleanup(void* arg) {
  // JS thread of this context, at its teardown (exit or worker.terminate()).
  auto* self = static_cast<Context*>(arg);
  // The interrupt poll says "stopping" here: a grant whose phase 2 never comes (forged in shared
  // memory) cannot hold the teardown (robust-lock.h AcceptHandoff).
  Parker::Instance().CancelAll(self, &self->interrupt_);
  if (self->tsfn_ != nullptr) {
    napi_release_threadsafe_function(self->tsfn_, napi_tsfn_abort);
    self->tsfn_ = nullptr;
  }
  if (self->owner_ != 0) self->table_->Release(self->owner_);
  self->owner_ = 0;
  self->grant_handler_.Reset();
  // No JS runs in this env after its cleanup hooks, so nothing reads AddonData::context again.
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
  Result r = table_->Claim(&owner_, js_thread_id);
  if (!r.ok()) {
    ThrowResult(env, r,
                r.status == Status::kBusy ? "owner table (no free slot)"
                                          : "owner table (deadman registration)");
    return false;
  }
  return true;
}

void Context::SetGrantHandler(Napi::Env env, Napi::Function fn) {
  grant_handler_ = Napi::Persistent(fn);
  if (tsfn_ != nullptr) return;
  napi_value name = Napi::String::New(env, "shmsync.grant");
  napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, nullptr, nullptr, this, CallJs,
                                  &tsfn_);
  // Unreferenced until something is parked: an idle context must not hold its loop open.
  napi_unref_threadsafe_function(env, tsfn_);
}

void Context::Parked() {
  if (parked_++ == 0 && tsfn_ != nullptr) napi_ref_threadsafe_function(env_, tsfn_);
}

void Context::Unparked() {
  if (parked_ > 0 && --parked_ == 0 && tsfn_ != nullptr)
    napi_unref_threadsafe_function(env_, tsfn_);
}

void Context::Deliver(void* target, uint64_t request_id, Status status) {
  // Parker thread. Non-blocking: the queue is unbounded, and a closing tsfn just drops it.
  auto* self = static_cast<Context*>(target);
  if (self->tsfn_ == nullptr) return;
  auto* msg = new GrantMessage{request_id, status};
  if (napi_call_threadsafe_function(self->tsfn_, msg, napi_tsfn_nonblocking) != napi_ok) delete msg;
}

void Context::CallJs(napi_env env, napi_value, void* context, void* data) {
  // JS thread of the context. env is null when the tsfn is being torn down.
  auto* msg = static_cast<GrantMessage*>(data);
  auto* self = static_cast<Context*>(context);
  const uint64_t id = msg->id;
  const Status status = msg->status;
  delete msg;
  if (env == nullptr || self == nullptr) return;
  if (self->grant_handler_.IsEmpty()) return;
  // The environment may be stopping (worker.terminate()) while the loop still drains this
  // queue: then N-API refuses the call. Nothing may be thrown here (napi_throw into a dying
  // environment aborts the process), and the completion stays recorded in the parker, so the
  // env cleanup hook (CancelAll) releases a lock granted to nobody.
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value args[2];
  napi_value fn = nullptr;
  napi_value recv = nullptr;
  napi_value result = nullptr;
  napi_status st = napi_create_double(env, static_cast<double>(id), &args[0]);
  if (st == napi_ok) st = napi_create_int32(env, static_cast<int32_t>(status), &args[1]);
  if (st == napi_ok) st = napi_get_reference_value(env, self->grant_handler_, &fn);
  if (st == napi_ok) st = napi_get_undefined(env, &recv);
  if (st == napi_ok && fn != nullptr) st = napi_call_function(env, recv, fn, 2, args, &result);
  bool threw = false;
  napi_is_exception_pending(env, &threw);
  // Delivered: the handler ran (returned, or threw an exception Node now reports as uncaught).
  if (st == napi_ok || threw) Parker::Instance().Forget(id);
  napi_close_handle_scope(env, scope);
}

}  // namespace shmsync
