#include "attachment.h"

#include <cstdlib>
#include <mutex>
#include <unordered_set>

#include "../core/attach.h"

namespace shmsync {

namespace {

// Live attachments of the process and the envs whose teardown hook is installed. Leaked on
// purpose: the exit hook runs after static destructors may have started.
struct Registry {
  std::mutex mu;
  std::unordered_set<Attachment*> live;
  std::unordered_set<napi_env> hooked;
};

// External memory reported per attachment: a tmpfs page, inode, dentry, VMA and page tables
// (~6 KiB) rounded up generously - it only paces V8's collections.
constexpr int64_t kReportedBytes = 64 * 1024;

Registry& Reg() {
  static Registry* r = new Registry();
  return *r;
}

}  // namespace

Attachment::Attachment(napi_env env, std::shared_ptr<ShmRegion> region, bool attached)
    : env_(env), region_(std::move(region)), attached_(attached) {}

std::unique_ptr<Attachment> Attachment::Hold(napi_env env, std::shared_ptr<ShmRegion> region) {
  const bool attached = region && attach::IsAttached(region.get());
  std::unique_ptr<Attachment> a(
      new Attachment(env, attached ? std::move(region) : nullptr, attached));
  if (!attached) return a;
  int64_t ignored = 0;
  if (napi_adjust_external_memory(env, kReportedBytes, &ignored) == napi_ok)
    a->external_ = kReportedBytes;
  static std::once_flag at_exit;
  std::call_once(at_exit, [] { std::atexit(&Attachment::ReleaseAll); });
  Registry& reg = Reg();
  std::lock_guard<std::mutex> lock(reg.mu);
  reg.live.insert(a.get());
  if (reg.hooked.insert(env).second) napi_add_env_cleanup_hook(env, &Attachment::ReleaseEnv, env);
  return a;
}

void Attachment::Unreport(napi_env env) {
  if (external_ == 0) return;
  int64_t ignored = 0;
  napi_adjust_external_memory(env, -external_, &ignored);
  external_ = 0;
}

Attachment::~Attachment() {
  if (!attached_) return;
  Release(true);
  Registry& reg = Reg();
  std::lock_guard<std::mutex> lock(reg.mu);
  reg.live.erase(this);
}

int64_t Attachment::Release(bool from_js) {
  if (!attached_) return 0;
  if (from_js) Unreport(env_);  // exit hooks leave external_ alone: see ReleaseEnv
  if (released_.exchange(true, std::memory_order_acq_rel)) return 0;
  if (attach::Detach(region_.get())) return -1;
  return attach::LingerMs(region_.get());
}

bool Attachment::ConsumeHandoff() {
  if (!attached_ || released_.load(std::memory_order_acquire)) return false;
  return attach::ConsumeHandoff(region_.get());
}

bool Attachment::Lease(uint64_t lease_ms) {
  if (!attached_ || released_.load(std::memory_order_acquire)) return false;
  return attach::Lease(region_.get(), lease_ms);
}

void Attachment::ReleaseEnv(void* env) {
  // JS thread of `env`, at its teardown (worker exit or process exit).
  Registry& reg = Reg();
  std::lock_guard<std::mutex> lock(reg.mu);
  reg.hooked.erase(static_cast<napi_env>(env));
  for (Attachment* a : reg.live) {
    if (a->env_ != static_cast<napi_env>(env)) continue;
    a->external_ = 0;  // this env's thread: its heap goes away, never report to it again
    a->Release();
  }
}

void Attachment::ReleaseAll() {
  // Main thread, at exit(): handles nobody closed still hand their attachment back.
  Registry& reg = Reg();
  std::lock_guard<std::mutex> lock(reg.mu);
  for (Attachment* a : reg.live) a->Release();
}

Napi::Value Attachment::JS_reap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsBoolean() ||
      (info.Length() > 3 && !info[3].IsBigInt())) {
    Napi::TypeError::New(env, "reapSegment(segmentName, ino, unmapped, wordBefore?)")
        .ThrowAsJavaScriptException();
    return Napi::Value();
  }
  // Without the word read before the /proc scan, `unmapped` cannot be trusted (see attach.h).
  bool unmapped = info[2].As<Napi::Boolean>().Value() && info.Length() > 3;
  uint64_t word_before = 0;
  if (unmapped) {
    bool lossless = false;
    word_before = info[3].As<Napi::BigInt>().Uint64Value(&lossless);
    unmapped = lossless;
  }
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  if (name.empty() || name.find('/') != std::string::npos) return Napi::Number::New(env, -1);
  const double ino = info[1].As<Napi::Number>().DoubleValue();
  const int r = attach::Reap(name, ino > 0 ? static_cast<uint64_t>(ino) : 0, unmapped, word_before);
  return Napi::Number::New(env, r);
}

Napi::Value CloseResult(Napi::Env env, std::unique_ptr<Attachment>* attachment) {
  int64_t r = 0;
  if (*attachment) {
    r = (*attachment)->Release(true);
    attachment->reset();
  }
  return Napi::Number::New(env, static_cast<double>(r));
}

Napi::Value LeaseResult(const Napi::CallbackInfo& info, Attachment* attachment) {
  Napi::Env env = info.Env();
  const double ms =
      info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0;
  if (attachment == nullptr || !(ms >= 0 && ms <= 1e9)) return Napi::Boolean::New(env, false);
  return Napi::Boolean::New(env, attachment->Lease(static_cast<uint64_t>(ms)));
}

}  // namespace shmsync
