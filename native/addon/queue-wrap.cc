#include "queue-wrap.h"

#include "../core/attach.h"

#include <string>

#include "../core/futex.h"
#include "../core/parker.h"
#include "../core/ring.h"
#include "../core/robust-lock.h"
#include "context.h"
#include "errors.h"
#include "external-buffer.h"

namespace shmsync {

namespace {

struct RingInit {
  uint64_t capacity;
  uint32_t max_message;
  uint64_t owner_table_id;
};

void InitPayload(uint8_t* payload, uint64_t, const void* arg) {
  auto* a = static_cast<const RingInit*>(arg);
  InitRing(reinterpret_cast<RingState*>(payload), a->capacity, a->max_message, a->owner_table_id);
}

int64_t DeadlineFrom(const Napi::Value& v) {
  if (!v.IsNumber()) return -1;
  const double ms = v.As<Napi::Number>().DoubleValue();
  if (!(ms >= 0)) return -1;
  if (ms > 9.0e12) return -1;  // beyond int64 nanoseconds (~292 years): forever
  return MonotonicNanos() + static_cast<int64_t>(ms * kNanosPerMilli);
}

// A blocking ring wait cut into slices of at most kInterruptPollNanos, so it ends (kClosed)
// once this JS context's environment stops or the process exits (wait-interrupt.h). JS thread.
template <typename WaitFn>
Status InterruptibleWait(const WaitInterrupt* intr, int64_t deadline, WaitFn wait) {
  for (;;) {
    if (Interrupted(intr)) return Status::kClosed;
    int64_t slice_end = MonotonicNanos() + kInterruptPollNanos;
    if (deadline >= 0 && deadline < slice_end) slice_end = deadline;
    const Status st = wait(slice_end);
    if (st != Status::kTimeout || (deadline >= 0 && slice_end == deadline)) return st;
  }
}

Napi::Number Negated(Napi::Env env, Status st) {
  return Napi::Number::New(env, -static_cast<int32_t>(st));
}

}  // namespace

Napi::Function QueueWrap::Define(Napi::Env env) {
  return DefineClass(
      env, "Queue",
      {InstanceMethod<&QueueWrap::JS_setBuffers>("setBuffers"),
       InstanceMethod<&QueueWrap::JS_put>("put"), InstanceMethod<&QueueWrap::JS_get>("get"),
       InstanceMethod<&QueueWrap::JS_getInto>("getInto"),
       InstanceMethod<&QueueWrap::JS_detach>("detach"),
       InstanceMethod<&QueueWrap::JS_state>("state"),
       InstanceMethod<&QueueWrap::JS_waitData>("waitData"),
       InstanceMethod<&QueueWrap::JS_waitSpace>("waitSpace"),
       InstanceMethod<&QueueWrap::JS_watchData>("watchData"),
       InstanceMethod<&QueueWrap::JS_watchSpace>("watchSpace"),
       InstanceMethod<&QueueWrap::JS_cancel>("cancel"),
       InstanceMethod<&QueueWrap::JS_close>("close"),
       InstanceMethod<&QueueWrap::JS_closeHandle>("closeHandle"),
       InstanceMethod<&QueueWrap::JS_lease>("lease"),
       InstanceAccessor<&QueueWrap::JS_attached>("attached"),
       InstanceMethod<&QueueWrap::JS_info>("info"),
       InstanceAccessor<&QueueWrap::JS_capacity>("capacity"),
       InstanceAccessor<&QueueWrap::JS_maxMessage>("maxMessage")});
}

QueueWrap::QueueWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<QueueWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber() ||
      !info[3].IsNumber() || !info[4].IsNumber()) {
    ThrowBadArgument(env, "Queue(name, mode, perm, capacity, maxMessage)");
    return;
  }
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  const int32_t mode = info[1].As<Napi::Number>().Int32Value();
  const uint32_t perm = info[2].As<Napi::Number>().Uint32Value();
  const double capacity = info[3].As<Napi::Number>().DoubleValue();
  const double max_message = info[4].As<Napi::Number>().DoubleValue();
  const bool sizes_given = capacity > 0;
  RingInit init{static_cast<uint64_t>(capacity), static_cast<uint32_t>(max_message), 0};
  if (mode < 0 || mode > 2 ||
      (sizes_given && (init.capacity < kMinRingCapacity || init.capacity > kMaxRingCapacity ||
                       (init.capacity & (init.capacity - 1)) != 0 || init.max_message == 0 ||
                       init.max_message > MaxMessageLimit(init.capacity))) ||
      (!sizes_given && mode != 0)) {
    ThrowBadArgument(env, "Queue sizes or mode");
    return;
  }
  context_ = Context::Get(env);
  if (!context_->EnsureOwner(env)) return;
  init.owner_table_id = context_->table()->id();
  bool created = false;
  const uint64_t payload = sizes_given ? kRingDataOffset + init.capacity : 0;
  const uint32_t lifetime =
      info.Length() > 5 && info[5].IsNumber() ? info[5].As<Napi::Number>().Uint32Value() : 0;
  Result r = attach::AcquireWithLifetime(name, Kind::kQueue, payload, static_cast<OpenMode>(mode),
                                         perm, InitPayload, &init, lifetime, &region_, &created);
  if (r.ok()) attachment_ = Attachment::Hold(env, region_);
  if (r.ok()) {
    // One read of the shared configuration, validated; config_ is the only copy used after.
    r = Result::Of(OpenRing(ring(), region_->payload_size(), &config_));
    if (r.ok()) r = Result::Of(CheckOwnerTable(&ring()->producer_lock, context_->table()));
    if (!r.ok()) {
      attachment_.reset();
      region_.reset();
    }
  }
  if (!r.ok()) {
    ThrowResult(env, r, "queue \"" + name + "\"");
    return;
  }
}

void QueueWrap::Staging(const Napi::Reference<Napi::Uint8Array>& ref, uint8_t** data,
                        uint64_t* length) {
  *data = nullptr;
  *length = 0;
  if (ref.IsEmpty()) return;
  // Raw N-API: one reference lookup and one typed-array query per call (the Napi::Uint8Array
  // wrapper would query twice). This is the price of never caching the pointer.
  napi_env env = ref.Env();
  napi_value array = nullptr;
  if (napi_get_reference_value(env, ref, &array) != napi_ok || array == nullptr) return;
  napi_typedarray_type type;
  size_t n = 0;
  void* p = nullptr;
  if (napi_get_typedarray_info(env, array, &type, &n, &p, nullptr, nullptr) != napi_ok) return;
  // A detached array reports length 0 (and a null or stale pointer): treat as no memory.
  if (n == 0 || p == nullptr) return;
  *data = static_cast<uint8_t*>(p);
  *length = n;  // element count == bytes: setBuffers accepts Uint8Arrays only
}

bool QueueWrap::CheckOpen(Napi::Env env) {
  if (region_) return true;
  ThrowResult(env, Result::Of(Status::kClosed), "queue handle");
  return false;
}

Napi::Value QueueWrap::JS_setBuffers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsTypedArray()) {
    ThrowBadArgument(env, "setBuffers(outbox, inbox)");
    return Napi::Value();
  }
  Napi::Uint8Array outbox = info[0].As<Napi::Uint8Array>();
  Napi::Uint8Array inbox = info[1].As<Napi::Uint8Array>();
  if (outbox.TypedArrayType() != napi_uint8_array || inbox.TypedArrayType() != napi_uint8_array) {
    ThrowBadArgument(env, "setBuffers: Uint8Arrays expected");
    return Napi::Value();
  }
  // The references keep both arrays alive while attached; their memory is looked up again on
  // every call (Staging), never cached: the backing store can be detached under us.
  outbox_ref_ = Napi::Persistent(outbox);
  inbox_ref_ = Napi::Persistent(inbox);
  return env.Undefined();
}

Napi::Value QueueWrap::JS_put(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  const uint32_t count = info[0].As<Napi::Number>().Uint32Value();
  const double bytes = info[1].As<Napi::Number>().DoubleValue();
  const double offset = info[2].As<Napi::Number>().DoubleValue();
  uint8_t* outbox = nullptr;
  uint64_t outbox_len = 0;
  Staging(outbox_ref_, &outbox, &outbox_len);
  if (outbox == nullptr || !(bytes >= 0) || !(offset >= 0) ||
      offset + bytes > static_cast<double>(outbox_len)) {
    ThrowBadArgument(env, "put(count, bytes, offset) beyond the attached outbox");
    return Napi::Value();
  }
  RecordBatch batch{outbox + static_cast<uint64_t>(offset), static_cast<uint64_t>(bytes), count};
  uint32_t written = 0;
  Status st = PutRecords(ring(), config_, context_->table(), context_->owner(), batch, &written);
  if (st != Status::kOk && written == 0) return Negated(env, st);
  return Napi::Number::New(env, written);
}

Napi::Value QueueWrap::Take(Napi::Env env, uint8_t* out, uint64_t out_len, uint32_t max_count) {
  uint32_t count = 0;
  uint64_t bytes = 0;
  Status st = GetRecords(ring(), config_, context_->table(), context_->owner(), out, out_len,
                         max_count, &count, &bytes);
  if (st != Status::kOk && count == 0) return Negated(env, st);
  return Napi::Number::New(env, count);
}

Napi::Value QueueWrap::JS_get(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  const uint32_t max_count = info[0].As<Napi::Number>().Uint32Value();
  uint8_t* inbox = nullptr;
  uint64_t inbox_len = 0;
  Staging(inbox_ref_, &inbox, &inbox_len);
  if (inbox == nullptr) {
    ThrowBadArgument(env, "get: no inbox attached (or it was detached)");
    return Napi::Value();
  }
  return Take(env, inbox, inbox_len, max_count);
}

Napi::Value QueueWrap::JS_getInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsNumber()) {
    ThrowBadArgument(env, "getInto(target, maxCount)");
    return Napi::Value();
  }
  napi_typedarray_type type;
  size_t n = 0;
  void* p = nullptr;
  if (napi_get_typedarray_info(env, info[0], &type, &n, &p, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array || n == 0 || p == nullptr) {
    // A detached target reports length 0: refused, never written.
    ThrowBadArgument(env, "getInto: a non-empty, attached Uint8Array expected");
    return Napi::Value();
  }
  return Take(env, static_cast<uint8_t*>(p), n, info[1].As<Napi::Number>().Uint32Value());
}

Napi::Value QueueWrap::JS_detach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArrayBuffer()) {
    ThrowBadArgument(env, "detach(arrayBuffer)");
    return Napi::Value();
  }
  // The facade's own per-batch buffer (drainSync): every view of it becomes length 0.
  if (napi_detach_arraybuffer(env, info[0]) != napi_ok) {
    ThrowBadArgument(env, "detach: the buffer cannot be detached");
    return Napi::Value();
  }
  return env.Undefined();
}

Napi::Value QueueWrap::JS_state(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  // The producer, consumer and configuration lines (192 bytes): JS polls tail/head/closed with
  // Atomics loads to decide whether a native get is worth calling, nothing more (queue.ts).
  Napi::Value ab = state_view_.Get(env, region_, 0, offsetof(RingState, reserved));
  if (ab.IsEmpty()) return env.Undefined();
  return ab;
}

Napi::Value QueueWrap::JS_waitData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  const int64_t deadline = info.Length() > 0 ? DeadlineFrom(info[0]) : -1;
  RingState* r = ring();
  const Status st = InterruptibleWait(context_->interrupt(), deadline, [r, this](int64_t until) {
    return WaitData(r, until, &data_budget_);
  });
  return Napi::Number::New(env, static_cast<int32_t>(st));
}

Napi::Value QueueWrap::JS_waitSpace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowBadArgument(env, "waitSpace(bytes, timeout)");
    return Napi::Value();
  }
  const auto bytes = static_cast<uint64_t>(info[0].As<Napi::Number>().DoubleValue());
  const int64_t deadline = info.Length() > 1 ? DeadlineFrom(info[1]) : -1;
  RingState* r = ring();
  const RingConfig config = config_;
  const Status st =
      InterruptibleWait(context_->interrupt(), deadline, [r, config, bytes, this](int64_t until) {
        return WaitSpace(r, config, bytes, until, &space_budget_);
      });
  return Napi::Number::New(env, static_cast<int32_t>(st));
}

Napi::Value QueueWrap::JS_watchData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  if (!context_->CanDeliver()) {
    ThrowBadArgument(env, "parking needs setGrantHandler() first");
    return Napi::Value();
  }
  RingState* r = ring();
  uint32_t seq = 0;
  // The sleeper registration and re-check are the ring's protocol (ring.h PrepareDataWatch).
  if (!PrepareDataWatch(r, &seq)) return Napi::Number::New(env, 0);
  const uint64_t id = Parker::Instance().ParkWatch(
      region_, &r->data_seq, seq, &r->consumers_sleeping, Context::Deliver, context_);
  context_->Parked();
  return Napi::Number::New(env, static_cast<double>(id));
}

Napi::Value QueueWrap::JS_watchSpace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  if (!context_->CanDeliver()) {
    ThrowBadArgument(env, "parking needs setGrantHandler() first");
    return Napi::Value();
  }
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowBadArgument(env, "watchSpace(bytes)");
    return Napi::Value();
  }
  const auto bytes = static_cast<uint64_t>(info[0].As<Napi::Number>().DoubleValue());
  RingState* r = ring();
  uint32_t seq = 0;
  if (!PrepareSpaceWatch(r, config_, bytes, &seq)) return Napi::Number::New(env, 0);
  const uint64_t id = Parker::Instance().ParkWatch(
      region_, &r->space_seq, seq, &r->producers_sleeping, Context::Deliver, context_);
  context_->Parked();
  return Napi::Number::New(env, static_cast<double>(id));
}

Napi::Value QueueWrap::JS_cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowBadArgument(env, "cancel(id)");
    return Napi::Value();
  }
  return Napi::Number::New(
      env,
      Parker::Instance().Cancel(static_cast<uint64_t>(info[0].As<Napi::Number>().DoubleValue())));
}

Napi::Value QueueWrap::JS_close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  CloseRing(ring());
  return env.Undefined();
}

Napi::Value QueueWrap::JS_closeHandle(const Napi::CallbackInfo& info) {
  state_view_.Release();  // JS's view of the ring lines goes now, and with it the mapping
  Napi::Value released = CloseResult(info.Env(), &attachment_);
  region_.reset();
  outbox_ref_.Reset();
  inbox_ref_.Reset();
  return released;
}

Napi::Value QueueWrap::JS_lease(const Napi::CallbackInfo& info) {
  return LeaseResult(info, attachment_.get());
}

Napi::Value QueueWrap::JS_attached(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), attachment_ && attachment_->attached());
}

Napi::Value QueueWrap::JS_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  RingState* r = ring();
  // Read out-line, then in-line: size never reads negative.
  const uint64_t out_count = r->count_out.load(std::memory_order_acquire);
  const uint64_t head = r->head.load(std::memory_order_acquire);
  const uint64_t in_count = r->count_in.load(std::memory_order_acquire);
  const uint64_t tail = r->tail.load(std::memory_order_acquire);
  Napi::Object o = Napi::Object::New(env);
  o.Set("size", Napi::Number::New(
                    env, static_cast<double>(in_count >= out_count ? in_count - out_count : 0)));
  o.Set("bytesUsed", Napi::Number::New(env, static_cast<double>(tail >= head ? tail - head : 0)));
  o.Set("closed", Napi::Boolean::New(env, r->closed.load(std::memory_order_acquire) != 0));
  o.Set("totalPut", Napi::Number::New(env, static_cast<double>(in_count)));
  o.Set("totalGot", Napi::Number::New(env, static_cast<double>(out_count)));
  o.Set("consumersWaiting",
        Napi::Number::New(env, r->consumers_sleeping.load(std::memory_order_relaxed)));
  o.Set("producersWaiting",
        Napi::Number::New(env, r->producers_sleeping.load(std::memory_order_relaxed)));
  return o;
}

Napi::Value QueueWrap::JS_capacity(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(config_.capacity));
}

Napi::Value QueueWrap::JS_maxMessage(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), config_.max_message);
}

}  // namespace shmsync
