#include "rwlock-wrap.h"

#include <algorithm>
#include <string>

#include "../core/attach.h"
#include "../core/rw-lock.h"
#include "context.h"
#include "errors.h"

namespace shmsync {

namespace {

struct RwInit {
  uint64_t owner_table_id;
  const uint8_t* label;
  uint32_t len;
};

void InitState(uint8_t* payload, uint64_t, const void* arg) {
  auto* init = static_cast<const RwInit*>(arg);
  InitRwLockState(reinterpret_cast<RwLockState*>(payload), init->owner_table_id, init->label,
                  init->len);
}

int64_t DeadlineAfterMillis(double ms) {
  if (!(ms >= 0)) return -1;
  constexpr double kMaxMillis = 9.0e12;
  if (ms > kMaxMillis) return -1;
  return MonotonicNanos() + static_cast<int64_t>(ms * kNanosPerMilli);
}

Napi::Number StatusValue(Napi::Env env, Status st) {
  return Napi::Number::New(env, static_cast<int32_t>(st));
}

}  // namespace

Napi::Function RwLockWrap::Define(Napi::Env env) {
  return DefineClass(
      env, "RwLock",
      {InstanceMethod<&RwLockWrap::JS_request>("request"),
       InstanceMethod<&RwLockWrap::JS_poll>("poll"), InstanceMethod<&RwLockWrap::JS_wait>("wait"),
       InstanceMethod<&RwLockWrap::JS_withdraw>("withdraw"),
       InstanceMethod<&RwLockWrap::JS_release>("release"),
       InstanceMethod<&RwLockWrap::JS_watch>("watch"),
       InstanceMethod<&RwLockWrap::JS_watchEntry>("watchEntry"),
       InstanceMethod<&RwLockWrap::JS_cancel>("cancel"),
       InstanceMethod<&RwLockWrap::JS_snapshot>("snapshot"),
       InstanceMethod<&RwLockWrap::JS_label>("label"), InstanceMethod<&RwLockWrap::JS_info>("info"),
       InstanceAccessor<&RwLockWrap::JS_created>("created"),
       InstanceMethod<&RwLockWrap::JS_close>("close"),
       InstanceMethod<&RwLockWrap::JS_lease>("lease"),
       InstanceMethod<&RwLockWrap::JS_consumeHandoff>("consumeHandoff"),
       InstanceAccessor<&RwLockWrap::JS_attached>("attached")});
}

RwLockWrap::RwLockWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RwLockWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber() ||
      !info[3].IsNumber()) {
    ThrowBadArgument(env, "RwLock(name, mode, perm, lifetime, label)");
    return;
  }
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  const int32_t mode = info[1].As<Napi::Number>().Int32Value();
  const uint32_t perm = info[2].As<Napi::Number>().Uint32Value();
  const uint32_t lifetime = info[3].As<Napi::Number>().Uint32Value();
  if (mode < 0 || mode > 2) {
    ThrowBadArgument(env, "RwLock mode");
    return;
  }
  RwInit init{0, nullptr, 0};
  if (info.Length() > 4 && info[4].IsBuffer()) {
    auto label = info[4].As<Napi::Buffer<uint8_t>>();
    init.label = label.Data();
    init.len = static_cast<uint32_t>(std::min<size_t>(label.Length(), kRwLabelBytes));
  }
  context_ = Context::Get(env);
  if (!context_->EnsureOwner(env)) return;
  init.owner_table_id = context_->table()->id();
  // The label bytes are copied by InitState during this call (the Buffer outlives it).
  Result r = attach::AcquireWithLifetime(name, Kind::kRwLock, sizeof(RwLockState),
                                         static_cast<OpenMode>(mode), perm, InitState, &init,
                                         lifetime, &region_, &created_);
  if (r.ok()) attachment_ = Attachment::Hold(env, region_);
  if (r.ok()) {
    r = Result::Of(CheckRwOwnerTable(state(), context_->table()));
    if (!r.ok()) {
      attachment_.reset();
      region_.reset();
    }
  }
  if (!r.ok()) ThrowResult(env, r, "rwlock \"" + name + "\"");
}

bool RwLockWrap::CheckOpen(Napi::Env env) {
  if (region_) return true;
  ThrowResult(env, Result::Of(Status::kClosed), "rwlock handle");
  return false;
}

uint32_t RwLockWrap::SlotArg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) return kRwEntries;
  const int64_t v = info[0].As<Napi::Number>().Int64Value();
  return v >= 0 && v < kRwEntries ? static_cast<uint32_t>(v) : kRwEntries;
}

Napi::Value RwLockWrap::JS_request(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  const RwMode mode =
      info.Length() > 0 && info[0].IsNumber() && info[0].As<Napi::Number>().Uint32Value() == 1
          ? RwMode::kExclusive
          : RwMode::kShared;
  const uint32_t flags =
      info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() & 3 : 0;
  uint32_t slot = kRwEntries;
  const Status st = RwRequest(state(), context_->table(), context_->owner(), mode, flags, &slot,
                              context_->interrupt());
  // One number: status in the low byte, slot above it (kRwEntries: none).
  return Napi::Number::New(env, static_cast<double>(static_cast<uint32_t>(st) | (slot << 8)));
}

Napi::Value RwLockWrap::JS_poll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  return StatusValue(env, RwPoll(state(), context_->table(), context_->owner(), SlotArg(info),
                                 nullptr, context_->interrupt()));
}

Napi::Value RwLockWrap::JS_wait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  const double timeout_ms =
      info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
  return StatusValue(env, RwWait(state(), context_->table(), context_->owner(), SlotArg(info),
                                 DeadlineAfterMillis(timeout_ms), context_->interrupt()));
}

Napi::Value RwLockWrap::JS_withdraw(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  return StatusValue(env, RwWithdraw(state(), context_->table(), context_->owner(), SlotArg(info),
                                     context_->interrupt()));
}

Napi::Value RwLockWrap::JS_release(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  return StatusValue(env, RwRelease(state(), context_->table(), context_->owner(), SlotArg(info)));
}

Napi::Value RwLockWrap::JS_watch(const Napi::CallbackInfo& info) {
  // Promise wait, one round: count ourselves as a sleeper, poll under the guard, and if still
  // queued park watches: seq (any change that may grant us) and the deadman words of one holder
  // and of the request just ahead of ours (a death changes no seq until someone sweeps; the
  // kernel marks the word). The facade polls again when any completes and cancels the others.
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  if (!context_->CanDeliver()) {
    ThrowBadArgument(env, "parking needs setGrantHandler() first");
    return Napi::Value();
  }
  RwLockState* s = state();
  const uint32_t slot = SlotArg(info);
  Status st = Status::kWouldBlock;
  uint32_t seq = 0;
  std::atomic<uint32_t>* dms[kRwBlockersWatched];
  uint32_t expected[kRwBlockersWatched];
  int k = -1;
  // A blocker that died after a poll's sweep would wake nobody: poll again (the sweep frees its
  // entry, so each round removes one; bounded by the table).
  for (uint32_t round = 0; round <= kRwEntries && k < 0; ++round) {
    s->sleepers.fetch_add(1, std::memory_order_seq_cst);  // before the poll: rw-lock.cc Leave
    st = RwPoll(s, context_->table(), context_->owner(), slot, &seq, context_->interrupt());
    if (st == Status::kWouldBlock) k = RwBlockingDeadmen(s, context_->table(), slot, dms, expected);
    if (st != Status::kWouldBlock || k < 0) s->sleepers.fetch_sub(1, std::memory_order_seq_cst);
    if (st != Status::kWouldBlock) break;
  }
  if (st == Status::kWouldBlock && k < 0) k = 0;  // a rewritten table: seq alone; JS polls again
  Napi::Array out = Napi::Array::New(env, 2 + kRwBlockersWatched);
  out.Set(0u, StatusValue(env, st));
  double seq_id = 0;
  if (st == Status::kWouldBlock) {
    // The parker decrements sleepers when this watch completes or is cancelled.
    seq_id = static_cast<double>(Parker::Instance().ParkWatch(region_, &s->seq, seq, &s->sleepers,
                                                              Context::Deliver, context_));
    context_->Parked();
  }
  for (int j = 0; j < kRwBlockersWatched; ++j) {
    double id = 0;
    if (st == Status::kWouldBlock && j < k) {
      id = static_cast<double>(Parker::Instance().ParkWatch(
          context_->table_ptr(), dms[j], expected[j], nullptr, Context::Deliver, context_));
      context_->Parked();
    }
    out.Set(static_cast<uint32_t>(2 + j), Napi::Number::New(env, id));
  }
  out.Set(1u, Napi::Number::New(env, seq_id));
  return out;
}

Napi::Value RwLockWrap::JS_watchEntry(const Napi::CallbackInfo& info) {
  // Completes when the state word of our held entry changes (a steal). 0: not held by us.
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  if (!context_->CanDeliver()) {
    ThrowBadArgument(env, "parking needs setGrantHandler() first");
    return Napi::Value();
  }
  const uint32_t slot = SlotArg(info);
  if (slot >= kRwEntries) return Napi::Number::New(env, 0);
  RwEntry* e = &state()->entries[slot];
  const uint32_t st = e->state.load(std::memory_order_acquire);
  if ((e->owner.load(std::memory_order_relaxed) & kLockOwnerMask) != context_->owner() ||
      (st & kRwPhaseMask) != kRwHeld) {
    return Napi::Number::New(env, 0);
  }
  // Not counted as parked (ParkedUnref, not Parked): a held lock must not keep the event loop
  // alive, as with navigator.locks. The facade registers the completion with onParkedUnref.
  const uint64_t id =
      Parker::Instance().ParkWatch(region_, &e->state, st, nullptr, Context::Deliver, context_);
  if (id != 0) context_->ParkedUnref(id);
  return Napi::Number::New(env, static_cast<double>(id));
}

Napi::Value RwLockWrap::JS_cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowBadArgument(env, "cancel(id)");
    return Napi::Value();
  }
  const auto id = static_cast<uint64_t>(info[0].As<Napi::Number>().DoubleValue());
  return Napi::Number::New(env, Parker::Instance().Cancel(id));
}

Napi::Value RwLockWrap::JS_snapshot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  RwEntryView views[kRwEntries];
  uint32_t n = 0;
  OwnerTable* table = context_->table();
  const Status st = RwSnapshot(state(), table, context_->owner(), views, &n, context_->interrupt());
  if (st != Status::kOk) return StatusValue(env, st);
  Napi::Array out = Napi::Array::New(env, n);
  for (uint32_t i = 0; i < n; ++i) {
    const RwEntryView& v = views[i];
    const OwnerId owner = v.owner & kLockOwnerMask;
    Napi::Object o = Napi::Object::New(env);
    o.Set("slot", Napi::Number::New(env, v.slot));
    o.Set("held", Napi::Boolean::New(env, (v.state & kRwPhaseMask) == kRwHeld));
    o.Set("exclusive", Napi::Boolean::New(env, (v.state & kRwExclusiveBit) != 0));
    o.Set("ticket", Napi::Number::New(env, v.ticket));
    o.Set("order", Napi::Number::New(env, v.order));
    o.Set("mine", Napi::Boolean::New(env, owner == context_->owner()));
    o.Set("pid", Napi::Number::New(env, table->PidOf(owner)));
    o.Set("threadId", Napi::Number::New(env, table->JsThreadIdOf(owner)));
    out.Set(i, o);
  }
  return out;
}

Napi::Value RwLockWrap::JS_label(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  RwLockState* s = state();
  uint32_t len = s->label_len.load(std::memory_order_relaxed);  // read once, clamped
  if (len > kRwLabelBytes) len = kRwLabelBytes;
  return Napi::Buffer<uint8_t>::Copy(env, s->label, len);
}

Napi::Value RwLockWrap::JS_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  RwLockState* s = state();
  Napi::Object out = Napi::Object::New(env);
  out.Set("ownerDeaths", Napi::Number::New(env, s->owner_deaths.load(std::memory_order_relaxed)));
  const uint64_t fence =
      (static_cast<uint64_t>(s->fence_hi.load(std::memory_order_relaxed)) << 32) |
      s->fence_lo.load(std::memory_order_relaxed);
  out.Set("acquisitions", Napi::BigInt::New(env, fence));
  return out;
}

Napi::Value RwLockWrap::JS_created(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), created_);
}

Napi::Value RwLockWrap::JS_close(const Napi::CallbackInfo& info) {
  Napi::Value released = CloseResult(info.Env(), &attachment_);
  region_.reset();
  return released;
}

Napi::Value RwLockWrap::JS_lease(const Napi::CallbackInfo& info) {
  return LeaseResult(info, attachment_.get());
}

Napi::Value RwLockWrap::JS_consumeHandoff(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), attachment_ && attachment_->ConsumeHandoff());
}

Napi::Value RwLockWrap::JS_attached(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), attachment_ && attachment_->attached());
}

}  // namespace shmsync
