#include "external-buffer.h"

namespace shmsync {

Napi::Value NewExternalArrayBuffer(Napi::Env env, const std::shared_ptr<ShmRegion>& region,
                                   uint64_t offset, uint64_t length,
                                   std::shared_ptr<ShmRegion>** keep_out) {
  auto* keep = new std::shared_ptr<ShmRegion>(region);
  napi_value ab = nullptr;
  napi_status st = napi_create_external_arraybuffer(
      env, region->payload() + offset, static_cast<size_t>(length),
      [](napi_env, void*, void* hint) { delete static_cast<std::shared_ptr<ShmRegion>*>(hint); },
      keep, &ab);
  if (st != napi_ok) {
    delete keep;
    // napi_no_external_buffers_allowed (or any failure): clear and let the caller fall back.
    if (env.IsExceptionPending()) env.GetAndClearPendingException();
    return Napi::Value();
  }
  if (keep_out != nullptr) *keep_out = keep;
  return Napi::Value(env, ab);
}

Napi::Value ExternalView::Get(Napi::Env env, const std::shared_ptr<ShmRegion>& region,
                              uint64_t offset, uint64_t length) {
  if (!ref_.IsEmpty()) return ref_.Value();
  Napi::Value ab = NewExternalArrayBuffer(env, region, offset, length, &keep_);
  if (ab.IsEmpty()) return ab;
  ref_ = Napi::Persistent(ab.As<Napi::ArrayBuffer>());
  return ab;
}

void ExternalView::Release() {
  if (ref_.IsEmpty()) return;
  Napi::ArrayBuffer ab = ref_.Value();
  // Drop the mapping reference first: if detaching ran the finalizer at once (it deletes
  // keep_), keep_ must not be touched afterwards. No JS runs between the two steps.
  if (keep_ != nullptr) keep_->reset();
  keep_ = nullptr;
  if (!ab.IsDetached()) ab.Detach();
  ref_.Reset();
}

}  // namespace shmsync
