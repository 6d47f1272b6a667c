#include "queue-wrap.h"

#include <string>

#include "../core/futex.h"
#include "../core/parker.h"
#include "../core/ring.h"
#include "../core/robust-lock.h"
#include "context.h"
#include "errors.h"

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
  return DefineClass(env, "Queue",
                     {InstanceMethod<&QueueWrap::JS_setBuffers>("setBuffers"),
                      InstanceMethod<&QueueWrap::JS_put>("put"),
                      InstanceMethod<&QueueWrap::JS_get>("get"),
                      InstanceMethod<&QueueWrap::JS_waitData>("waitData"),
                      InstanceMethod<&QueueWrap::JS_waitSpace>("waitSpace"),
                      InstanceMethod<&QueueWrap::JS_watchData>("watchData"),
                      InstanceMethod<&QueueWrap::JS_watchSpace>("watchSpace"),
                      InstanceMethod<&QueueWrap::JS_cancel>("cancel"),
                      InstanceMethod<&QueueWrap::JS_close>("close"),
                      InstanceMethod<&QueueWrap::JS_closeHandle>("closeHandle"),
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
  Result r = ShmRegion::Acquire(name, Kind::kQueue, payload, static_cast<OpenMode>(mode), perm,
                                InitPayload, &init, &region_, &created);
  if (r.ok()) {
    r = Result::Of(ValidateRing(ring(), region_->payload_size()));
    if (r.ok()) r = Result::Of(CheckOwnerTable(&ring()->producer_lock, context_->table()));
    if (!r.ok()) region_.reset();
  }
  if (!r.ok()) {
    ThrowResult(env, r, "queue \"" + name + "\"");
    return;
  }
  capacity_ = ring()->capacity;
  max_message_ = ring()->max_message;
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
  // The references keep both arrays (and so their backing stores) alive while attached.
  outbox_ref_ = Napi::Persistent(outbox);
  inbox_ref_ = Napi::Persistent(inbox);
  outbox_ = outbox.Data();
  outbox_len_ = outbox.ByteLength();
  inbox_ = inbox.Data();
  inbox_len_ = inbox.ByteLength();
  return env.Undefined();
}

Napi::Value QueueWrap::JS_put(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  const uint32_t count = info[0].As<Napi::Number>().Uint32Value();
  const double bytes = info[1].As<Napi::Number>().DoubleValue();
  const double offset = info[2].As<Napi::Number>().DoubleValue();
  if (outbox_ == nullptr || !(bytes >= 0) || !(offset >= 0) ||
      offset + bytes > static_cast<double>(outbox_len_)) {
    ThrowBadArgument(env, "put(count, bytes, offset) beyond the attached outbox");
    return Napi::Value();
  }
  RecordBatch batch{outbox_ + static_cast<uint64_t>(offset), static_cast<uint64_t>(bytes), count};
  uint32_t written = 0;
  Status st = PutRecords(ring(), RingConfig{capacity_, max_message_}, context_->table(),
                         context_->owner(), batch, &written);
  if (st != Status::kOk && written == 0) return Negated(env, st);
  return Napi::Number::New(env, written);
}

Napi::Value QueueWrap::JS_get(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  const uint32_t max_count = info[0].As<Napi::Number>().Uint32Value();
  if (inbox_ == nullptr) {
    ThrowBadArgument(env, "get: no inbox attached");
    return Napi::Value();
  }
  uint32_t count = 0;
  uint64_t bytes = 0;
  Status st = GetRecords(ring(), RingConfig{capacity_, max_message_}, context_->table(),
                         context_->owner(), inbox_, inbox_len_, max_count, &count, &bytes);
  if (st != Status::kOk && count == 0) return Negated(env, st);
  return Napi::Number::New(env, count);
}

Napi::Value QueueWrap::JS_waitData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  const int64_t deadline = info.Length() > 0 ? DeadlineFrom(info[0]) : -1;
  RingState* r = ring();
  const Status st = InterruptibleWait(context_->interrupt(), deadline, [r](int64_t until) { return WaitData(r, until); });
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
  const Status st = InterruptibleWait(context_->interrupt(), deadline,
                                      [r, bytes](int64_t until) { return WaitSpace(r, bytes, until); });
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
  // Count ourselves as a sleeper first, then re-check: the wake protocol of ring.cc.
  r->consumers_sleeping.fetch_add(1, std::memory_order_seq_cst);
  const uint32_t seq = r->data_seq.load(std::memory_order_seq_cst);
  if (r->tail.load(std::memory_order_seq_cst) != r->head.load(std::memory_order_seq_cst) ||
      r->closed.load(std::memory_order_seq_cst) != 0) {
    r->consumers_sleeping.fetch_sub(1, std::memory_order_seq_cst);
    return Napi::Number::New(env, 0);
  }
  const uint64_t id = Parker::Instance().ParkWatch(region_, &r->data_seq, seq, &r->consumers_sleeping,
                                                   Context::Deliver, context_);
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
  r->producers_sleeping.fetch_add(1, std::memory_order_seq_cst);
  const uint32_t seq = r->space_seq.load(std::memory_order_seq_cst);
  const uint64_t tail = r->tail.load(std::memory_order_seq_cst);
  const uint64_t head = r->head.load(std::memory_order_seq_cst);
  const uint64_t cap = r->capacity;
  const uint64_t to_end = cap - (tail & (cap - 1));
  const uint64_t need = bytes + (bytes > to_end ? to_end : 0);
  if ((tail - head <= cap && cap - (tail - head) >= need) || r->closed.load(std::memory_order_seq_cst) != 0) {
    r->producers_sleeping.fetch_sub(1, std::memory_order_seq_cst);
    return Napi::Number::New(env, 0);
  }
  const uint64_t id = Parker::Instance().ParkWatch(region_, &r->space_seq, seq, &r->producers_sleeping,
                                                   Context::Deliver, context_);
  context_->Parked();
  return Napi::Number::New(env, static_cast<double>(id));
}

Napi::Value QueueWrap::JS_cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowBadArgument(env, "cancel(id)");
    return Napi::Value();
  }
  return Napi::Number::New(env, Parker::Instance().Cancel(static_cast<uint64_t>(info[0].As<Napi::Number>().DoubleValue())));
}

Napi::Value QueueWrap::JS_close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  CloseRing(ring());
  return env.Undefined();
}

Napi::Value QueueWrap::JS_closeHandle(const Napi::CallbackInfo& info) {
  region_.reset();
  outbox_ref_.Reset();
  inbox_ref_.Reset();
  outbox_ = inbox_ = nullptr;
  return info.Env().Undefined();
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
  o.Set("size", Napi::Number::New(env, static_cast<double>(in_count >= out_count ? in_count - out_count : 0)));
  o.Set("bytesUsed", Napi::Number::New(env, static_cast<double>(tail >= head ? tail - head : 0)));
  o.Set("closed", Napi::Boolean::New(env, r->closed.load(std::memory_order_acquire) != 0));
  o.Set("totalPut", Napi::Number::New(env, static_cast<double>(in_count)));
  o.Set("totalGot", Napi::Number::New(env, static_cast<double>(out_count)));
  o.Set("consumersWaiting", Napi::Number::New(env, r->consumers_sleeping.load(std::memory_order_relaxed)));
  o.Set("producersWaiting", Napi::Number::New(env, r->producers_sleeping.load(std::memory_order_relaxed)));
  return o;
}

Napi::Value QueueWrap::JS_capacity(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(capacity_));
}

Napi::Value QueueWrap::JS_maxMessage(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), max_message_);
}

}  // namespace shmsync
