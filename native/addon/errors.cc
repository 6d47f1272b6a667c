// Status -> JS error mapping. Runs on the JS thread that made the failing call.
//
// kStatusTable is the native half of the one status -> error table: src/addon/status.ts
// (kStatusTable) has the same rows (name, code, message) in the same order, and
// test/01-status-table.ts fails when status.h, this table and the TypeScript table disagree.
#include "errors.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "addon-data.h"

namespace shmsync {

namespace {

struct StatusInfo {
  const char* code;
  const char* message;
};

// Indexed by Status; keep in the enum's order (static_assert below).
constexpr StatusInfo kStatusTable[] = {
    {"SHMSYNC_OK", "ok"},
    {"SHMSYNC_NOT_FOUND", "does not exist"},
    {"SHMSYNC_EXISTS", "already exists"},
    {"SHMSYNC_KIND_MISMATCH", "holds another kind of shmsync object"},
    {"SHMSYNC_VERSION_MISMATCH", "was created by an incompatible shmsync layout version"},
    {"SHMSYNC_SIZE_MISMATCH", "has a different size than requested"},
    {"SHMSYNC_CORRUPT", "is corrupt or truncated"},
    {"SHMSYNC_PERMISSION", "permission denied"},
    {"SHMSYNC_SYSTEM", "system call failed"},
    {"SHMSYNC_TIMEOUT", "timed out"},
    {"SHMSYNC_WOULD_BLOCK", "would block"},
    {"SHMSYNC_NOT_OWNER", "is not held by the caller"},
    {"SHMSYNC_OWNER_DEAD", "previous holder died while holding it"},
    {"SHMSYNC_NOT_RECOVERABLE",
     "is not recoverable: a dead holder's state was never marked consistent"},
    {"SHMSYNC_DEADLOCK", "would deadlock"},
    {"SHMSYNC_CLOSED", "is closed"},
    {"SHMSYNC_TOO_LARGE", "message is too large"},
    {"SHMSYNC_BUSY", "is busy"},
    {"SHMSYNC_OWNER_TABLE_MISMATCH",
     "was created by a process with another owner table (another user, or another "
     "SHMSYNC_OWNER_TABLE); every user of a lock must share one"},
    {"SHMSYNC_NO_SPACE",
     "cannot be created: no space left in /dev/shm (tmpfs size limit or memory)"},
};
static_assert(sizeof(kStatusTable) / sizeof(kStatusTable[0]) == static_cast<size_t>(Status::kCount),
              "one table row per Status");

}  // namespace

const char* StatusCode(Status status) {
  const auto i = static_cast<size_t>(status);
  if (i >= static_cast<size_t>(Status::kCount)) return "SHMSYNC_SYSTEM";
  return kStatusTable[i].code;
}

void ThrowResult(Napi::Env env, const Result& result, const std::string& context) {
  const auto i = static_cast<size_t>(result.status);
  const StatusInfo& info =
      i < static_cast<size_t>(Status::kCount) ? kStatusTable[i] : kStatusTable[8];
  std::string message = context + ": " + info.message;
  if (result.sys_errno != 0) {
    message += std::string(" (") + result.syscall + ": " + std::strerror(result.sys_errno) + ")";
  }
  if (result.owner_uid >= 0) {
    // An ownership refusal (shm-region.h OwnerCheck): name who owns the file and why.
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(result.file_mode & 07777));
    const auto euid = static_cast<int64_t>(geteuid());
    message += ": the segment is owned by uid " + std::to_string(result.owner_uid) + " (mode " +
               mode + "), this process runs as uid " + std::to_string(euid);
    if (result.owner_uid == euid) {
      message += "; an owner table must not be readable or writable by group or others (0600)";
    } else {
      message += "; another user may have planted it (see docs/troubleshooting.md)";
    }
  }
  AddonData* data = GetAddonData(env);
  if (data == nullptr || data->create_error.IsEmpty()) {
    Napi::Error::New(env, message).ThrowAsJavaScriptException();
    return;
  }
  Napi::Value err = data->create_error.Call(
      {Napi::String::New(env, info.code), Napi::String::New(env, message),
       Napi::Number::New(env, result.sys_errno), Napi::String::New(env, result.syscall)});
  if (env.IsExceptionPending()) return;  // the factory itself threw; keep that error
  Napi::Error(env, err).ThrowAsJavaScriptException();
}

void ThrowBadArgument(Napi::Env env, const char* what) {
  Napi::TypeError::New(env, std::string("shmsync native: bad argument: ") + what)
      .ThrowAsJavaScriptException();
}

}  // namespace shmsync
