#include "mutex-wrap.h"

#include <string>

#include "../core/attach.h"
#include "../core/robust-lock.h"
#include "context.h"
#include "errors.h"
#include "external-buffer.h"

namespace shmsync {

namespace {

struct MutexInit {
  OwnerDeathPolicy policy;
  uint64_t owner_table_id;
};

void InitState(uint8_t* payload, uint64_t, const void* arg) {
  auto* init = static_cast<const MutexInit*>(arg);
  InitMutexState(reinterpret_cast<MutexState*>(payload), init->policy, init->owner_table_id);
}

// A relative timeout in ms (< 0 or NaN: none) as an absolute CLOCK_MONOTONIC deadline. Timeouts
// too large for int64 nanoseconds (about 292 years) wait forever.
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

Napi::Function MutexWrap::Define(Napi::Env env) {
  return DefineClass(
      env, "Mutex",
      {InstanceMethod<&MutexWrap::JS_state>("state"), InstanceMethod<&MutexWrap::JS_lock>("lock"),
       InstanceMethod<&MutexWrap::JS_tryLock>("tryLock"),
       InstanceMethod<&MutexWrap::JS_unlock>("unlock"),
       InstanceMethod<&MutexWrap::JS_adopt>("adopt"),
       InstanceMethod<&MutexWrap::JS_markConsistent>("markConsistent"),
       InstanceMethod<&MutexWrap::JS_park>("park"), InstanceMethod<&MutexWrap::JS_cancel>("cancel"),
       InstanceMethod<&MutexWrap::JS_info>("info"),
       InstanceAccessor<&MutexWrap::JS_policy>("policy"),
       InstanceAccessor<&MutexWrap::JS_created>("created"),
       InstanceMethod<&MutexWrap::JS_close>("close"), InstanceMethod<&MutexWrap::JS_lease>("lease"),
       InstanceMethod<&MutexWrap::JS_consumeHandoff>("consumeHandoff"),
       InstanceAccessor<&MutexWrap::JS_attached>("attached")});
}

MutexWrap::MutexWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MutexWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber() ||
      !info[3].IsNumber()) {
    ThrowBadArgument(env, "Mutex(name, mode, perm, policy)");
    return;
  }
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  const int32_t mode = info[1].As<Napi::Number>().Int32Value();
  const uint32_t perm = info[2].As<Napi::Number>().Uint32Value();
  const auto policy =
      static_cast<OwnerDeathPolicy>(info[3].As<Napi::Number>().Uint32Value() == 1 ? 1 : 0);
  if (mode < 0 || mode > 2) {
    ThrowBadArgument(env, "Mutex mode");
    return;
  }
  context_ = Context::Get(env);
  if (!context_->EnsureOwner(env)) return;
  const MutexInit init{policy, context_->table()->id()};
  const uint32_t lifetime =
      info.Length() > 4 && info[4].IsNumber() ? info[4].As<Napi::Number>().Uint32Value() : 0;
  Result r = attach::AcquireWithLifetime(name, Kind::kMutex, sizeof(MutexState),
                                         static_cast<OpenMode>(mode), perm, InitState, &init,
                                         lifetime, &region_, &created_);
  if (r.ok()) attachment_ = Attachment::Hold(env, region_);
  if (r.ok()) {
    r = Result::Of(CheckOwnerTable(state(), context_->table()));
    if (!r.ok()) {
      attachment_.reset();
      region_.reset();
    }
  }
  if (!r.ok()) ThrowResult(env, r, "mutex \"" + name + "\"");
}

bool MutexWrap::CheckOpen(Napi::Env env) {
  if (region_) return true;
  ThrowResult(env, Result::Of(Status::kClosed), "mutex handle");
  return false;
}

Napi::Value MutexWrap::JS_state(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  Napi::Value ab = buffer_.Get(env, region_, 0, sizeof(MutexState));
  if (ab.IsEmpty()) return env.Undefined();  // the runtime forbids external buffers
  return ab;
}

Napi::Value MutexWrap::JS_lock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  const double timeout_ms =
      info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
  // Ends early (kClosed) when this context's environment stops or the process exits.
  return StatusValue(env, Lock(state(), context_->table(), context_->owner(),
                               DeadlineAfterMillis(timeout_ms), context_->interrupt()));
}

Napi::Value MutexWrap::JS_tryLock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  return StatusValue(env, TryLock(state(), context_->table(), context_->owner()));
}

Napi::Value MutexWrap::JS_adopt(const Napi::CallbackInfo& info) {
  // The facade found the word naming this context while none of its tokens holds the lock (a
  // grant it was not told about): take it over with the acquisition bookkeeping, so the caller
  // can use it or release it. kNotOwner if the word does not name this context.
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  MutexState* s = state();
  if ((s->word.load(std::memory_order_acquire) & kLockOwnerMask) != context_->owner()) {
    return StatusValue(env, Status::kNotOwner);
  }
  return StatusValue(env, AcceptHandoff(s, context_->table(), context_->owner()));
}

Napi::Value MutexWrap::JS_unlock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  return StatusValue(env, Unlock(state(), context_->table(), context_->owner()));
}

Napi::Value MutexWrap::JS_markConsistent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  return StatusValue(env, MarkConsistent(state(), context_->owner()));
}

Napi::Value MutexWrap::JS_park(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  if (!context_->CanDeliver()) {
    ThrowBadArgument(env, "parking needs setGrantHandler() first");
    return Napi::Value();
  }
  const uint64_t id = Parker::Instance().ParkLock(region_, state(), context_->table(),
                                                  context_->owner(), Context::Deliver, context_);
  context_->Parked();
  return Napi::Number::New(env, static_cast<double>(id));
}

Napi::Value MutexWrap::JS_cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowBadArgument(env, "cancel(id)");
    return Napi::Value();
  }
  const auto id = static_cast<uint64_t>(info[0].As<Napi::Number>().DoubleValue());
  return Napi::Number::New(env, Parker::Instance().Cancel(id));
}

Napi::Value MutexWrap::JS_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  MutexState* s = state();
  OwnerTable* table = context_->table();
  const uint32_t word = s->word.load(std::memory_order_acquire);
  const OwnerId holder = word & kLockOwnerMask;
  Napi::Object out = Napi::Object::New(env);
  out.Set("locked", Napi::Boolean::New(env, holder != 0));
  if (holder != 0) {
    out.Set("holderPid", Napi::Number::New(env, table->PidOf(holder)));
    out.Set("holderTid", Napi::Number::New(env, table->TidOf(holder)));
    out.Set("holderThreadId", Napi::Number::New(env, table->JsThreadIdOf(holder)));
    out.Set("holderAlive", Napi::Boolean::New(env, table->Check(holder) == Liveness::kAlive));
    out.Set("holderIsMe", Napi::Boolean::New(env, holder == context_->owner()));
  }
  out.Set("depth",
          Napi::Number::New(env, holder != 0 ? s->depth.load(std::memory_order_relaxed) : 0));
  out.Set("waiters", Napi::Number::New(env, s->waiters.load(std::memory_order_relaxed)));
  out.Set("acquisitions", Napi::BigInt::New(env, Fence(s)));
  out.Set("ownerDeaths", Napi::Number::New(env, s->owner_deaths.load(std::memory_order_relaxed)));
  out.Set("consistency", Napi::Number::New(env, s->consistency.load(std::memory_order_relaxed)));
  return out;
}

Napi::Value MutexWrap::JS_policy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  return Napi::Number::New(env, state()->policy.load(std::memory_order_relaxed));
}

Napi::Value MutexWrap::JS_created(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), created_);
}

Napi::Value MutexWrap::JS_close(const Napi::CallbackInfo& info) {
  buffer_.Release();
  Napi::Value released = CloseResult(info.Env(), &attachment_);
  region_.reset();
  return released;
}

Napi::Value MutexWrap::JS_lease(const Napi::CallbackInfo& info) {
  return LeaseResult(info, attachment_.get());
}

// A reference revived in a thread that has this mutex open shares that thread's handle: no open
// runs, so consume the pending hand-off here as an open would (attach.h ConsumeHandoff).
Napi::Value MutexWrap::JS_consumeHandoff(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), attachment_ && attachment_->ConsumeHandoff());
}

Napi::Value MutexWrap::JS_attached(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), attachment_ && attachment_->attached());
}

}  // namespace shmsync
