#include "region-wrap.h"

#include <cstring>
#include <string>

#include "../core/attach.h"
#include "errors.h"
#include "external-buffer.h"

namespace shmsync {

Napi::Function RegionWrap::Define(Napi::Env env) {
  return DefineClass(
      env, "Region",
      {InstanceAccessor<&RegionWrap::JS_size>("size"),
       InstanceAccessor<&RegionWrap::JS_created>("created"),
       InstanceMethod<&RegionWrap::JS_buffer>("buffer"),
       InstanceMethod<&RegionWrap::JS_read>("read"), InstanceMethod<&RegionWrap::JS_write>("write"),
       InstanceMethod<&RegionWrap::JS_close>("close"),
       InstanceMethod<&RegionWrap::JS_lease>("lease"),
       InstanceAccessor<&RegionWrap::JS_attached>("attached"),
       StaticMethod<&RegionWrap::JS_unlink>("unlink")});
}

RegionWrap::RegionWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RegionWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber() ||
      !info[3].IsNumber() || !info[4].IsNumber()) {
    ThrowBadArgument(env, "Region(name, kind, size, mode, perm[, allowForeignOwner])");
    return;
  }
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  const auto kind = static_cast<Kind>(info[1].As<Napi::Number>().Uint32Value());
  const double size = info[2].As<Napi::Number>().DoubleValue();
  const int32_t mode = info[3].As<Napi::Number>().Int32Value();
  const uint32_t perm = info[4].As<Napi::Number>().Uint32Value();
  if (!(size >= 0 && size <= static_cast<double>(kMaxSegmentSize)) || mode < 0 || mode > 2) {
    ThrowBadArgument(env, "Region size or mode out of range");
    return;
  }
  const uint32_t lifetime =
      info.Length() > 5 && info[5].IsNumber() ? info[5].As<Napi::Number>().Uint32Value() : 0;
  // info[6] (optional): the caller opted in to segments other users own (allowForeignOwner).
  const bool any_owner =
      info.Length() > 6 && info[6].IsBoolean() && info[6].As<Napi::Boolean>().Value();
  Result r = attach::AcquireWithLifetime(
      name, kind, static_cast<uint64_t>(size), static_cast<OpenMode>(mode), perm, nullptr, nullptr,
      lifetime, &region_, &created_, any_owner ? OwnerCheck::kAnyOwner : OwnerCheck::kMine);
  if (!r.ok())
    ThrowResult(env, r, "shared memory segment \"" + name + "\"");
  else
    attachment_ = Attachment::Hold(env, region_);
}

bool RegionWrap::CheckOpen(Napi::Env env) {
  if (region_) return true;
  ThrowResult(env, Result::Of(Status::kClosed), "shared memory handle");
  return false;
}

Napi::Value RegionWrap::JS_size(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info.Env())) return Napi::Value();
  return Napi::Number::New(info.Env(), static_cast<double>(region_->payload_size()));
}

Napi::Value RegionWrap::JS_created(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), created_);
}

Napi::Value RegionWrap::JS_buffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  Napi::Value ab = buffer_.Get(env, region_, 0, region_->payload_size());
  if (ab.IsEmpty()) return env.Undefined();  // the runtime forbids external buffers
  return ab;
}

bool RegionWrap::CopyArgs(const Napi::CallbackInfo& info, uint64_t* offset,
                          Napi::Uint8Array* view) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return false;
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowBadArgument(env, "(offset, Uint8Array)");
    return false;
  }
  const double off = info[0].As<Napi::Number>().DoubleValue();
  *view = info[1].As<Napi::Uint8Array>();
  if (!(off >= 0) || off + static_cast<double>(view->ByteLength()) >
                         static_cast<double>(region_->payload_size())) {
    Napi::RangeError::New(env, "shmsync: read/write range is outside the segment")
        .ThrowAsJavaScriptException();
    return false;
  }
  *offset = static_cast<uint64_t>(off);
  return true;
}

Napi::Value RegionWrap::JS_read(const Napi::CallbackInfo& info) {
  uint64_t offset = 0;
  Napi::Uint8Array view;
  if (!CopyArgs(info, &offset, &view)) return Napi::Value();
  std::memcpy(view.Data(), region_->payload() + offset, view.ByteLength());
  return info.Env().Undefined();
}

Napi::Value RegionWrap::JS_write(const Napi::CallbackInfo& info) {
  uint64_t offset = 0;
  Napi::Uint8Array view;
  if (!CopyArgs(info, &offset, &view)) return Napi::Value();
  std::memcpy(region_->payload() + offset, view.Data(), view.ByteLength());
  return info.Env().Undefined();
}

Napi::Value RegionWrap::JS_close(const Napi::CallbackInfo& info) {
  // Detach first: every JS view of the mapping becomes zero-length, so nothing in JS can
  // reach the memory once the last owner unmaps it.
  buffer_.Release();
  Napi::Value released = CloseResult(info.Env(), &attachment_);
  region_.reset();
  return released;
}

Napi::Value RegionWrap::JS_lease(const Napi::CallbackInfo& info) {
  return LeaseResult(info, attachment_.get());
}

Napi::Value RegionWrap::JS_attached(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), attachment_ && attachment_->attached());
}

Napi::Value RegionWrap::JS_unlink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    ThrowBadArgument(env, "unlink(name)");
    return Napi::Value();
  }
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  Result r = ShmRegion::Unlink(name);
  if (r.status == Status::kNotFound) return Napi::Boolean::New(env, false);
  if (!r.ok()) {
    ThrowResult(env, r, "shared memory segment \"" + name + "\"");
    return Napi::Value();
  }
  return Napi::Boolean::New(env, true);
}

}  // namespace shmsync
