// Status codes returned by every native/core operation.
//
// native/core never throws and never touches Node: it returns a Status (plus errno where a
// syscall failed). native/addon/errors.cc maps each value to one stable JS error code; the
// table there and this enum must stay in the same order.
#pragma once

#include <cstdint>

namespace shmsync {

enum class Status : int32_t {
  kOk = 0,
  kNotFound = 1,             // no segment of that name
  kExists = 2,               // create: a segment of that name already exists
  kKindMismatch = 3,         // segment holds another kind of object
  kVersionMismatch = 4,      // segment written by an incompatible layout version
  kSizeMismatch = 5,         // segment has another size than the caller asked for
  kCorrupt = 6,              // header or record fails validation (truncated, bad magic, bad index)
  kPermission = 7,           // EACCES / EPERM
  kSystem = 8,               // any other syscall failure; errno says which
  kTimeout = 9,              // a timed wait elapsed
  kWouldBlock = 10,          // a try-operation could not complete without waiting
  kNotOwner = 11,            // release by a thread that does not hold the lock
  kOwnerDead = 12,           // acquired, but the previous holder died while holding
  kNotRecoverable = 13,      // strict policy: a dead holder's state was never marked consistent
  kDeadlock = 14,            // the wait could only deadlock
  kClosed = 15,              // object closed (queue: no more writes)
  kTooLarge = 16,            // message larger than the queue accepts
  kBusy = 17,                // operation conflicts with in-flight work on this handle
  kOwnerTableMismatch = 18,  // the lock's users must share one owner table; this one differs
  kNoSpace = 19,             // /dev/shm (tmpfs) cannot hold the segment: ENOSPC at creation
  kCount = 20,
};

struct Result {
  Status status = Status::kOk;
  int sys_errno = 0;         // meaningful when status == kSystem or kPermission
  const char* syscall = "";  // the failing syscall, for messages
  // kPermission from an ownership check (shm-region.h OwnerCheck): the file's owner uid and
  // permission bits, for the message. -1: not an ownership refusal.
  int64_t owner_uid = -1;
  uint32_t file_mode = 0;

  static Result Ok() { return {}; }
  static Result Of(Status s) { return {s, 0, ""}; }
  static Result Errno(int err, const char* call);
  bool ok() const { return status == Status::kOk; }
};

}  // namespace shmsync
